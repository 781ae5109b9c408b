#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace lgsp::seed {

struct SeedReport {
  std::int64_t citizens = 0;
  double seconds = 0;
};

/// Writes `citizens` synthetic citizens from `seed` into a fresh SQLite population registry at
/// `path` (replacing it atomically). progress(done) is called every 100,000 rows.
SeedReport seed_population_sqlite(const std::string& path, std::int64_t citizens,
                                  std::uint64_t seed,
                                  const std::function<void(std::int64_t)>& progress = {});

}  // namespace lgsp::seed
