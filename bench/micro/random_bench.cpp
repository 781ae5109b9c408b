// A request id's 16 random bytes: straight from OpenSSL 3's RAND_bytes, or from the pool
// per thread that util::random_fill keeps (bench/README.md).
#include <benchmark/benchmark.h>
#include <openssl/rand.h>

#include <array>

#include "util/random.hpp"

namespace {

void RandBytes16(benchmark::State& state) {
  std::array<unsigned char, 16> out{};
  for (auto _ : state) {
    benchmark::DoNotOptimize(RAND_bytes(out.data(), static_cast<int>(out.size())));
  }
}
BENCHMARK(RandBytes16)->ThreadRange(1, 2);

void PooledRandom16(benchmark::State& state) {
  std::array<unsigned char, 16> out{};
  for (auto _ : state) {
    lgsp::util::random_fill(out);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(PooledRandom16)->ThreadRange(1, 2);

}  // namespace
