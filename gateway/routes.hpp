#pragma once

#include <span>
#include <string_view>

namespace lgsp::gateway {

/// A partner API route: its path and the (registry, operation) it serves. The pseudo-
/// registries "citizen" (profile) and "audit" (access log) are the gateway's own.
struct Route {
  std::string_view path;
  std::string_view registry;
  std::string_view operation;
};

/// Every partner route (all POST): "/v1/<registry>/<operation>" for each registry module's
/// verify and lookup, then the profile and the access log. Built once from the registry
/// table; shared by the API handler and the HTTP fuzz target.
std::span<const Route> routes();

}  // namespace lgsp::gateway
