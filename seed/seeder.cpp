#include "seed/seeder.hpp"

#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <vector>

#include "registries/table.hpp"
#include "seed/synthetic.hpp"
#include "util/clock.hpp"

namespace lgsp::seed {

SeedTargets targets_from(const config::Config& cfg) {
  SeedTargets t;
  // A registry served by its ministry's own system (backend upstream) is not ours to write,
  // nor one this config only names (backend connector: served elsewhere).
  for (const auto& [name, rc] : cfg.registries) {
    if (rc.backend != "upstream" && rc.backend != "connector") t.emplace(name, rc);
  }
  return t;
}

SeedTargets sqlite_targets(std::initializer_list<std::pair<std::string, std::string>> paths) {
  SeedTargets t;
  for (const auto& [name, path] : paths) {
    config::RegistryConfig rc;
    rc.sqlite_path = path;
    t.emplace(name, rc);
  }
  return t;
}

bool any_missing(const SeedTargets& t) {
  for (const auto& [_, rc] : t) {
    if (rc.backend == "sqlite" && !std::filesystem::exists(rc.sqlite_path)) return true;
  }
  return false;
}

SeedReport seed_registries(const SeedTargets& targets, std::int64_t citizens, std::uint64_t seed,
                           const std::function<void(std::int64_t)>& progress) {
  const auto start = std::chrono::steady_clock::now();
  struct Target {
    std::string name;
    std::unique_ptr<registries::SeedWriter> writer;
  };
  std::vector<Target> writers;
  for (const auto& [name, rc] : targets) {
    const registries::Module* module = registries::find(name);
    if (module == nullptr) {
      throw std::runtime_error("cannot seed registry \"" + name +
                               "\": no such registry module (known: " + registries::known_names() +
                               ")");
    }
    writers.push_back({name, module->seed(rc, seed)});
  }
  SyntheticPopulation people(seed);
  SeedReport report;
  for (std::int64_t i = 0; i < citizens; ++i) {
    const domain::CitizenRecord c = people.next();
    for (auto& t : writers) report.rows[t.name] += t.writer->add(c);
    if (progress && (i + 1) % 100000 == 0) progress(i + 1);
  }
  const registries::Meta meta{{"seed", std::to_string(seed)},
                              {"citizens", std::to_string(citizens)},
                              {"generator", "lgsp-synthetic-v2"}};
  for (auto& t : writers) t.writer->finish(meta);
  report.citizens = citizens;
  report.seconds = util::seconds_since(start);
  return report;
}

}  // namespace lgsp::seed
