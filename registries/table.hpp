#pragma once

#include <span>
#include <string>
#include <string_view>

#include "registries/registry.hpp"

namespace lgsp::registries {

/// Every registry module, in the order the docs and samples list them. The only place the
/// rest of the code learns which registries exist: it loops over this table.
std::span<const Module* const> modules();
/// The module named `name`, or nullptr.
const Module* find(std::string_view name);

/// The catalogue of `name`: a registry's, or a pseudo-registry's: "citizen" (operation
/// "profile": one subject across registries), "audit" (operation "access-log") or "consent"
/// (operations "grant", "revoke", "list": the citizen app's consent records). Operations
/// are authorised as "registry.operation". nullptr when unknown.
const Catalogue* find_catalogue(std::string_view name);
bool has_operation(const Catalogue& c, std::string_view op);
bool has_field(const Catalogue& c, std::string_view field);

/// "population, insurance, vehicle, ...": for error messages that list what is known.
std::string known_names();

}  // namespace lgsp::registries
