#include "seed/seeder.hpp"

#include <chrono>

#include "connectors/backends/sqlite_population_store.hpp"
#include "seed/synthetic.hpp"

namespace lgsp::seed {

SeedReport seed_population_sqlite(const std::string& path, std::int64_t citizens,
                                  std::uint64_t seed,
                                  const std::function<void(std::int64_t)>& progress) {
  const auto start = std::chrono::steady_clock::now();
  connectors::SqlitePopulationWriter writer(path);
  SyntheticPopulation gen(seed);
  for (std::int64_t i = 0; i < citizens; ++i) {
    writer.add(gen.next());
    if (progress && (i + 1) % 100000 == 0) progress(i + 1);
  }
  writer.finish({{"seed", std::to_string(seed)},
                 {"citizens", std::to_string(citizens)},
                 {"generator", "lgsp-synthetic-v1"}});
  return {citizens,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
}

}  // namespace lgsp::seed
