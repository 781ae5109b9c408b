#include "seed/seeder.hpp"

#include <chrono>
#include <filesystem>
#include <memory>

#include "connectors/backends/factory.hpp"
#include "seed/registries.hpp"
#include "seed/synthetic.hpp"

namespace lgsp::seed {

SeedTargets targets_from(const config::Config& cfg) {
  SeedTargets t;
  const auto get = [&](const char* name) -> std::optional<config::RegistryConfig> {
    const auto it = cfg.registries.find(name);
    if (it == cfg.registries.end()) return std::nullopt;
    return it->second;
  };
  t.population = get("population");
  t.insurance = get("insurance");
  t.vehicle = get("vehicle");
  return t;
}

SeedTargets sqlite_targets(const std::string& population, const std::string& insurance,
                           const std::string& vehicle) {
  const auto at = [](const std::string& path) -> std::optional<config::RegistryConfig> {
    if (path.empty()) return std::nullopt;
    config::RegistryConfig rc;
    rc.sqlite_path = path;
    return rc;
  };
  return {at(population), at(insurance), at(vehicle)};
}

bool any_missing(const SeedTargets& t) {
  for (const auto* rc : {&t.population, &t.insurance, &t.vehicle}) {
    if (*rc && (*rc)->backend == "sqlite" && !std::filesystem::exists((*rc)->sqlite_path))
      return true;
  }
  return false;
}

SeedReport seed_registries(const SeedTargets& targets, std::int64_t citizens, std::uint64_t seed,
                           const std::function<void(std::int64_t)>& progress) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<connectors::PopulationWriter> population;
  std::unique_ptr<connectors::InsuranceWriter> insurance;
  std::unique_ptr<connectors::VehicleWriter> vehicles;
  if (targets.population) population = connectors::create_population_writer(*targets.population);
  if (targets.insurance) insurance = connectors::create_insurance_writer(*targets.insurance);
  if (targets.vehicle) vehicles = connectors::create_vehicle_writer(*targets.vehicle);

  SyntheticPopulation people(seed);
  SyntheticHoldings holdings(seed);
  SeedReport report;
  for (std::int64_t i = 0; i < citizens; ++i) {
    const domain::CitizenRecord c = people.next();
    if (population) population->add(c);
    // Drawn for every citizen whether or not the registry is written, so each registry's
    // content depends only on the seed.
    const auto ins = holdings.insurance_for(c);
    const auto cars = holdings.vehicles_for(c);
    if (insurance && ins) {
      insurance->add(*ins);
      ++report.insured;
    }
    if (vehicles) {
      for (const auto& v : cars) vehicles->add(v);
      report.vehicles += static_cast<std::int64_t>(cars.size());
    }
    if (progress && (i + 1) % 100000 == 0) progress(i + 1);
  }
  const std::vector<std::pair<std::string, std::string>> meta{
      {"seed", std::to_string(seed)},
      {"citizens", std::to_string(citizens)},
      {"generator", "lgsp-synthetic-v2"}};
  if (population) population->finish(meta);
  if (insurance) insurance->finish(meta);
  if (vehicles) vehicles->finish(meta);
  report.citizens = citizens;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace lgsp::seed
