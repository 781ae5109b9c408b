#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "config/config.hpp"

namespace lgsp::seed {

/// Where each registry goes; an empty path skips that registry.
struct SeedTargets {
  std::string population;
  std::string insurance;
  std::string vehicle;
};

struct SeedReport {
  std::int64_t citizens = 0;
  std::int64_t insured = 0;
  std::int64_t vehicles = 0;
  double seconds = 0;
};

/// The SQLite paths of the registries `cfg` configures.
SeedTargets targets_from(const config::Config& cfg);
/// True when a configured registry file does not exist yet.
bool any_missing(const SeedTargets& targets);

/// Writes `citizens` synthetic citizens from `seed`, with their insurance records and
/// vehicles, into fresh SQLite registries (each replaced atomically). The same citizens
/// appear in every registry. progress(done) is called every 100,000 citizens.
SeedReport seed_registries(const SeedTargets& targets, std::int64_t citizens, std::uint64_t seed,
                           const std::function<void(std::int64_t)>& progress = {});

}  // namespace lgsp::seed
