#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "config/config.hpp"

namespace lgsp::seed {

/// Where each registry goes (its backend settings); an empty optional skips it.
struct SeedTargets {
  std::optional<config::RegistryConfig> population;
  std::optional<config::RegistryConfig> insurance;
  std::optional<config::RegistryConfig> vehicle;
};
/// A SQLite-only target set (tests, benchmarks); an empty path skips that registry.
SeedTargets sqlite_targets(const std::string& population, const std::string& insurance = {},
                           const std::string& vehicle = {});

struct SeedReport {
  std::int64_t citizens = 0;
  std::int64_t insured = 0;
  std::int64_t vehicles = 0;
  double seconds = 0;
};

/// The registries `cfg` configures.
SeedTargets targets_from(const config::Config& cfg);
/// True when a configured SQLite registry file does not exist yet (PostgreSQL registries
/// are seeded only when asked: `lgsp seed --force`).
bool any_missing(const SeedTargets& targets);

/// Writes `citizens` synthetic citizens from `seed`, with their insurance records and
/// vehicles, into fresh registries (each replaced atomically, SQLite or PostgreSQL). The same
/// citizens appear in every registry. progress(done) is called every 100,000 citizens.
SeedReport seed_registries(const SeedTargets& targets, std::int64_t citizens, std::uint64_t seed,
                           const std::function<void(std::int64_t)>& progress = {});

}  // namespace lgsp::seed
