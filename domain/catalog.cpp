#include "domain/catalog.hpp"

#include <algorithm>
#include <array>

namespace lgsp::domain {
namespace {

// batch-verify: bulk jobs (POST /v1/batches), granted separately from interactive verify.
constexpr std::array<std::string_view, 3> kPopulationOps{"verify", "lookup", "batch-verify"};
constexpr std::array<std::string_view, 6> kPopulationFields{
    "full_name",       "date_of_birth",     "gender",
    "place_of_origin", "permanent_address", "id_card_issue_date"};

constexpr std::array<std::string_view, 3> kInsuranceOps{"verify", "lookup", "batch-verify"};
constexpr std::array<std::string_view, 8> kInsuranceFields{"social_insurance_number",
                                                           "health_insurance_card",
                                                           "status",
                                                           "coverage_start",
                                                           "coverage_end",
                                                           "registered_hospital",
                                                           "benefit_level",
                                                           "citizen_id"};
constexpr std::array<std::string_view, 3> kVehicleOps{"verify", "lookup", "batch-verify"};
constexpr std::array<std::string_view, 10> kVehicleFields{
    "plate_number",  "owner_citizen_id", "vehicle_type",      "brand", "model", "colour",
    "engine_number", "chassis_number",   "registration_date", "status"};
// Not a registry: the cross-registry profile is authorised as "citizen.profile".
constexpr std::array<std::string_view, 1> kCitizenOps{"profile"};
// Nor is the audit trail: the citizen access log is authorised as "audit.access-log".
constexpr std::array<std::string_view, 1> kAuditOps{"access-log"};

constexpr std::array<RegistryInfo, 5> kRegistries{{
    {"population", kPopulationOps, kPopulationFields},
    {"insurance", kInsuranceOps, kInsuranceFields},
    {"vehicle", kVehicleOps, kVehicleFields},
    {"citizen", kCitizenOps, {}},
    {"audit", kAuditOps, {}},
}};

bool contains(std::span<const std::string_view> s, std::string_view v) {
  return std::find(s.begin(), s.end(), v) != s.end();
}

}  // namespace

std::span<const RegistryInfo> registries() { return std::span(kRegistries).first(3); }

const RegistryInfo* find_registry(std::string_view name) {
  for (const auto& r : kRegistries) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

bool is_registry(std::string_view name) {
  return name != "citizen" && name != "audit" && find_registry(name) != nullptr;
}

bool has_operation(const RegistryInfo& r, std::string_view op) {
  return contains(r.operations, op);
}
bool has_field(const RegistryInfo& r, std::string_view field) { return contains(r.fields, field); }

}  // namespace lgsp::domain
