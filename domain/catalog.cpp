#include "domain/catalog.hpp"

#include <algorithm>
#include <array>

namespace lgsp::domain {
namespace {

constexpr std::array<std::string_view, 2> kPopulationOps{"verify", "lookup"};
constexpr std::array<std::string_view, 6> kPopulationFields{
    "full_name",       "date_of_birth",     "gender",
    "place_of_origin", "permanent_address", "id_card_issue_date"};

constexpr std::array<RegistryInfo, 1> kRegistries{{
    {"population", kPopulationOps, kPopulationFields},
}};

bool contains(std::span<const std::string_view> s, std::string_view v) {
  return std::find(s.begin(), s.end(), v) != s.end();
}

}  // namespace

std::span<const RegistryInfo> registries() { return kRegistries; }

const RegistryInfo* find_registry(std::string_view name) {
  for (const auto& r : kRegistries) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

bool has_operation(const RegistryInfo& r, std::string_view op) {
  return contains(r.operations, op);
}
bool has_field(const RegistryInfo& r, std::string_view field) { return contains(r.fields, field); }

}  // namespace lgsp::domain
