#include "connectors/backends/factory.hpp"

#include "connectors/backends/postgres.hpp"
#include "connectors/backends/sqlite_stores.hpp"

namespace lgsp::connectors {
namespace {

std::size_t pool(const config::RegistryConfig& rc) {
  return static_cast<std::size_t>(rc.pool_size);
}
bool pg(const config::RegistryConfig& rc) { return rc.backend == "postgres"; }

}  // namespace

std::unique_ptr<PopulationStore> open_population_store(const config::RegistryConfig& rc) {
  if (pg(rc)) return std::make_unique<postgres::PopulationStore>(rc.dsn(), pool(rc));
  return std::make_unique<SqlitePopulationStore>(rc.sqlite_path);
}
std::unique_ptr<InsuranceStore> open_insurance_store(const config::RegistryConfig& rc) {
  if (pg(rc)) return std::make_unique<postgres::InsuranceStore>(rc.dsn(), pool(rc));
  return std::make_unique<SqliteInsuranceStore>(rc.sqlite_path);
}
std::unique_ptr<VehicleStore> open_vehicle_store(const config::RegistryConfig& rc) {
  if (pg(rc)) return std::make_unique<postgres::VehicleStore>(rc.dsn(), pool(rc));
  return std::make_unique<SqliteVehicleStore>(rc.sqlite_path);
}

std::unique_ptr<PopulationWriter> create_population_writer(const config::RegistryConfig& rc) {
  if (pg(rc)) return postgres::population_writer(rc.dsn());
  return std::make_unique<SqlitePopulationWriter>(rc.sqlite_path);
}
std::unique_ptr<InsuranceWriter> create_insurance_writer(const config::RegistryConfig& rc) {
  if (pg(rc)) return postgres::insurance_writer(rc.dsn());
  return std::make_unique<SqliteInsuranceWriter>(rc.sqlite_path);
}
std::unique_ptr<VehicleWriter> create_vehicle_writer(const config::RegistryConfig& rc) {
  if (pg(rc)) return postgres::vehicle_writer(rc.dsn());
  return std::make_unique<SqliteVehicleWriter>(rc.sqlite_path);
}

}  // namespace lgsp::connectors
