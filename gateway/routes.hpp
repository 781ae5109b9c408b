#pragma once

#include <string_view>

namespace lgsp::gateway {

/// A partner API route: its path and the (registry, operation) it serves. The pseudo-
/// registries "citizen" (profile) and "audit" (access log) are in domain/catalog.
struct Route {
  std::string_view path;
  std::string_view registry;
  std::string_view operation;
};

/// Every partner route (all POST). Shared by the API handler and the HTTP fuzz target.
inline constexpr Route kRoutes[] = {
    {"/v1/population/verify", "population", "verify"},
    {"/v1/population/lookup", "population", "lookup"},
    {"/v1/insurance/verify", "insurance", "verify"},
    {"/v1/insurance/lookup", "insurance", "lookup"},
    {"/v1/vehicle/verify", "vehicle", "verify"},
    {"/v1/vehicle/lookup", "vehicle", "lookup"},
    {"/v1/citizen-profile", "citizen", "profile"},
    {"/v1/audit/access-log", "audit", "access-log"},
};

}  // namespace lgsp::gateway
