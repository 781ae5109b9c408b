#include "gateway/routes.hpp"

#include <deque>
#include <string>
#include <vector>

#include "registries/table.hpp"

namespace lgsp::gateway {
namespace {

std::vector<Route> build() {
  // Stable storage for the paths the routes view (a deque never moves its elements).
  static std::deque<std::string> paths;
  std::vector<Route> out;
  for (const registries::Module* m : registries::modules()) {
    const auto& c = m->catalogue();
    for (std::string_view op : {"verify", "lookup"}) {
      if (!registries::has_operation(c, op)) continue;
      const std::string& path =
          paths.emplace_back("/v1/" + std::string(c.name) + "/" + std::string(op));
      out.push_back({path, c.name, op});
    }
  }
  out.push_back({"/v1/citizen-profile", "citizen", "profile"});
  out.push_back({"/v1/audit/access-log", "audit", "access-log"});
  out.push_back({"/v1/consents", "consent", "grant"});
  out.push_back({"/v1/consents/revoke", "consent", "revoke"});
  out.push_back({"/v1/consents/list", "consent", "list"});
  return out;
}

}  // namespace

std::span<const Route> routes() {
  static const std::vector<Route> kRoutes = build();
  return kRoutes;
}

}  // namespace lgsp::gateway
