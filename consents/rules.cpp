#include "consents/rules.hpp"

#include <array>

#include "registries/table.hpp"
#include "util/hashing.hpp"
#include "util/random.hpp"

namespace lgsp::consents {

Standing standing(const std::optional<Consent>& c, std::string_view partner_id,
                  std::string_view subject_hash, std::string_view purpose, std::int64_t now_ms) {
  if (!c) return Standing::kUnknown;
  if (c->partner_id != partner_id) return Standing::kOtherPartner;
  if (c->subject_hash != subject_hash) return Standing::kOtherCitizen;
  if (c->purpose != purpose) return Standing::kOtherPurpose;
  if (c->revoked_ms != 0 && c->revoked_ms <= now_ms) return Standing::kRevoked;
  if (now_ms >= c->expires_ms) return Standing::kExpired;
  return Standing::kValid;
}

std::string_view label(Standing s) {
  switch (s) {
    case Standing::kValid:
      return "valid";
    case Standing::kUnknown:
      return "unknown";
    case Standing::kOtherCitizen:
      return "other_citizen";
    case Standing::kOtherPartner:
      return "other_partner";
    case Standing::kOtherPurpose:
      return "other_purpose";
    case Standing::kRevoked:
      return "revoked";
    case Standing::kExpired:
      return "expired";
  }
  return "unknown";
}

std::string explain(Standing s) {
  switch (s) {
    case Standing::kValid:
      return "valid";
    // One wording for both: a partner learns nothing about consents that are not its own.
    case Standing::kUnknown:
    case Standing::kOtherPartner:
      return "no consent by this id was given to this partner";
    case Standing::kOtherCitizen:
      return "the consent was given by another citizen than citizen_id";
    case Standing::kOtherPurpose:
      return "the consent was given for another purpose than the request states";
    case Standing::kRevoked:
      return "the citizen has revoked this consent";
    case Standing::kExpired:
      return "the consent has expired; ask the citizen for a new one";
  }
  return "invalid";
}

RegistryScope scope_of(const std::vector<std::string>& scope, std::string_view registry) {
  RegistryScope out;
  for (const auto& entry : scope) {
    if (entry == registry) {
      out.covered = true;
      out.whole = true;
    } else if (entry.size() > registry.size() + 1 && entry.starts_with(registry) &&
               entry[registry.size()] == '.') {
      out.covered = true;
      out.fields.insert(entry.substr(registry.size() + 1));
    }
  }
  return out;
}

std::vector<std::string> scope_problems(const std::vector<std::string>& scope) {
  std::vector<std::string> out;
  if (scope.empty()) out.emplace_back("must name at least one registry or registry field");
  std::set<std::string> seen;
  for (const auto& entry : scope) {
    if (!seen.insert(entry).second) out.push_back("\"" + entry + "\" is listed twice");
    const auto dot = entry.find('.');
    const registries::Module* m = registries::find(entry.substr(0, dot));
    if (m == nullptr) {
      out.push_back("\"" + entry + "\": unknown registry (known: " + registries::known_names() +
                    ")");
    } else if (dot != std::string::npos &&
               !registries::has_field(m->catalogue(), entry.substr(dot + 1))) {
      out.push_back("\"" + entry + "\": the " + entry.substr(0, dot) + " registry has no field \"" +
                    entry.substr(dot + 1) + "\"");
    }
  }
  return out;
}

std::string new_consent_id() {
  std::array<unsigned char, 16> bytes{};
  util::random_fill(bytes);
  return "cs-" + util::to_hex(bytes.data(), bytes.size());
}

bool well_formed_id(std::string_view id) {
  if (id.size() != 35 || !id.starts_with("cs-")) return false;
  for (const char ch : id.substr(3)) {
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  }
  return true;
}

}  // namespace lgsp::consents
