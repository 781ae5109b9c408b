#pragma once

#include <span>
#include <string_view>

namespace lgsp::domain {

/// What the platform can be asked: each registry, its operations and the fields its records
/// release. Config validation, authorisation and the connectors all read this one table, so
/// a field name means the same thing everywhere.
struct RegistryInfo {
  std::string_view name;
  std::span<const std::string_view> operations;
  std::span<const std::string_view> fields;
};

/// The three registries (population, insurance, vehicle), in that order.
std::span<const RegistryInfo> registries();
/// A registry, or a pseudo-registry: "citizen" (operation "profile") or "audit" (operation
/// "access-log"); operations are authorised as "registry.operation".
const RegistryInfo* find_registry(std::string_view name);
/// A real registry (not "citizen" or "audit").
bool is_registry(std::string_view name);
bool has_operation(const RegistryInfo& r, std::string_view op);
bool has_field(const RegistryInfo& r, std::string_view field);

}  // namespace lgsp::domain
