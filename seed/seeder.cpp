#include "seed/seeder.hpp"

#include <chrono>
#include <filesystem>
#include <memory>

#include "connectors/backends/sqlite_stores.hpp"
#include "seed/registries.hpp"
#include "seed/synthetic.hpp"

namespace lgsp::seed {

SeedTargets targets_from(const config::Config& cfg) {
  SeedTargets t;
  const auto path = [&](const char* name) {
    const auto it = cfg.registries.find(name);
    return it == cfg.registries.end() ? std::string{} : it->second.sqlite_path;
  };
  t.population = path("population");
  t.insurance = path("insurance");
  t.vehicle = path("vehicle");
  return t;
}

bool any_missing(const SeedTargets& t) {
  for (const auto* p : {&t.population, &t.insurance, &t.vehicle}) {
    if (!p->empty() && !std::filesystem::exists(*p)) return true;
  }
  return false;
}

SeedReport seed_registries(const SeedTargets& targets, std::int64_t citizens, std::uint64_t seed,
                           const std::function<void(std::int64_t)>& progress) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<connectors::SqlitePopulationWriter> population;
  std::unique_ptr<connectors::SqliteInsuranceWriter> insurance;
  std::unique_ptr<connectors::SqliteVehicleWriter> vehicles;
  if (!targets.population.empty())
    population = std::make_unique<connectors::SqlitePopulationWriter>(targets.population);
  if (!targets.insurance.empty())
    insurance = std::make_unique<connectors::SqliteInsuranceWriter>(targets.insurance);
  if (!targets.vehicle.empty())
    vehicles = std::make_unique<connectors::SqliteVehicleWriter>(targets.vehicle);

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
