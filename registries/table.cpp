#include "registries/table.hpp"

#include <algorithm>
#include <array>

#include "registries/civil_status/module.hpp"
#include "registries/insurance/module.hpp"
#include "registries/population/module.hpp"
#include "registries/vehicle/module.hpp"

namespace lgsp::registries {
namespace {

// Not registries: the cross-registry profile is authorised as "citizen.profile", the citizen
// access log as "audit.access-log", a citizen's consents as "consent.grant", "consent.revoke"
// and "consent.list". They are the gateway's own operations.
constexpr std::array<std::string_view, 1> kCitizenOps{"profile"};
constexpr std::array<std::string_view, 1> kAuditOps{"access-log"};
constexpr std::array<std::string_view, 3> kConsentOps{"grant", "revoke", "list"};
constexpr std::array<Catalogue, 3> kPseudo{{
    {"citizen", kCitizenOps, {}, {}, {}, "one subject across every registry a partner may see"},
    {"audit", kAuditOps, {}, {}, {}, "who accessed a citizen's data"},
    {"consent", kConsentOps, {}, {}, {}, "a citizen's consents to partners (the citizen app)"},
}};

bool contains(std::span<const std::string_view> s, std::string_view v) {
  return std::find(s.begin(), s.end(), v) != s.end();
}

}  // namespace

std::span<const Module* const> modules() {
  // The registry table: one line per registry module.
  static const std::array<const Module*, 4> kModules{
      &population::module(),
      &insurance::module(),
      &vehicle::module(),
      &civil_status::module(),
  };
  return kModules;
}

const Module* find(std::string_view name) {
  for (const Module* m : modules()) {
    if (m->catalogue().name == name) return m;
  }
  return nullptr;
}

const Catalogue* find_catalogue(std::string_view name) {
  if (const Module* m = find(name)) return &m->catalogue();
  for (const auto& c : kPseudo) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

bool has_operation(const Catalogue& c, std::string_view op) { return contains(c.operations, op); }
bool has_field(const Catalogue& c, std::string_view field) { return contains(c.fields, field); }

std::string known_names() {
  std::string out;
  for (const Module* m : modules()) {
    if (!out.empty()) out += ", ";
    out += m->catalogue().name;
  }
  return out;
}

}  // namespace lgsp::registries
