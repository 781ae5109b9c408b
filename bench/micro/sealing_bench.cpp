// What sealing costs per envelope (util::Sealer): a typical verify request (~300 bytes), a
// lookup reply (~600 bytes) and a bulk chunk of 200 records (~40 KiB), sealed and opened.
//   build/bench/lgsp_micro_bench --benchmark_filter=Seal
#include <benchmark/benchmark.h>

#include <string>

#include "util/sealing.hpp"

namespace {

const lgsp::util::Sealer& sealer() {
  static const lgsp::util::Sealer s({{"population", {{"20261201", std::string(32, 'k')}}}}, {});
  return s;
}
const std::string kContext = "request\nlgsp.population.requests\nlgsp.replies:0\n";

void Seal(benchmark::State& state) {
  const std::string plain(static_cast<std::size_t>(state.range(0)), 'x');
  for (auto _ : state) benchmark::DoNotOptimize(sealer().seal("population", kContext, plain));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(Seal)->Arg(300)->Arg(600)->Arg(40000)->ThreadRange(1, 2);

void Open(benchmark::State& state) {
  const std::string sealed = sealer().seal(
      "population", kContext, std::string(static_cast<std::size_t>(state.range(0)), 'x'));
  for (auto _ : state) benchmark::DoNotOptimize(sealer().open(kContext, sealed));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(Open)->Arg(300)->Arg(600)->Arg(40000)->ThreadRange(1, 2);

}  // namespace
