#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>

#include "config/config.hpp"

namespace lgsp::seed {

/// Where each registry goes: registry name → backend settings. A registry absent here is
/// not seeded.
using SeedTargets = std::map<std::string, config::RegistryConfig>;

/// A SQLite-only target set (tests, benchmarks): {registry name, file path}.
SeedTargets sqlite_targets(std::initializer_list<std::pair<std::string, std::string>> paths);

struct SeedReport {
  std::int64_t citizens = 0;
  /// Rows written per registry.
  std::map<std::string, std::int64_t> rows;
  double seconds = 0;
};

/// The registries `cfg` configures, except those served by an upstream system.
SeedTargets targets_from(const config::Config& cfg);
/// True when a configured SQLite registry file does not exist yet (PostgreSQL registries
/// are seeded only when asked: `lgsp seed --force`).
bool any_missing(const SeedTargets& targets);

/// Writes `citizens` synthetic citizens from `seed`, with each registry's records for them
/// (every module in the registry table that `targets` names), into fresh registries (each
/// replaced atomically, SQLite or PostgreSQL). The same citizens appear in every registry.
/// progress(done) is called every 100,000 citizens. Throws for a target that names no
/// registry module.
SeedReport seed_registries(const SeedTargets& targets, std::int64_t citizens, std::uint64_t seed,
                           const std::function<void(std::int64_t)>& progress = {});

}  // namespace lgsp::seed
