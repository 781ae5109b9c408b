#pragma once

#include <memory>

#include "config/config.hpp"
#include "connectors/backends/stores.hpp"

namespace lgsp::connectors {

/// Opens the store a registry's config names (sqlite or postgres). Throws with the reason
/// (missing file, unreachable database) so a misconfigured connector stops at start.
std::unique_ptr<PopulationStore> open_population_store(const config::RegistryConfig& rc);
std::unique_ptr<InsuranceStore> open_insurance_store(const config::RegistryConfig& rc);
std::unique_ptr<VehicleStore> open_vehicle_store(const config::RegistryConfig& rc);

/// Creates the bulk writer for a registry's backend (for `lgsp seed`).
std::unique_ptr<PopulationWriter> create_population_writer(const config::RegistryConfig& rc);
std::unique_ptr<InsuranceWriter> create_insurance_writer(const config::RegistryConfig& rc);
std::unique_ptr<VehicleWriter> create_vehicle_writer(const config::RegistryConfig& rc);

}  // namespace lgsp::connectors
