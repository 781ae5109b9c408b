#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "consents/store.hpp"

namespace lgsp::consents {

/// Where a consent stands for one request. Pure rules: no store, no clock of their own.
enum class Standing {
  kValid,
  kUnknown,       // no consent by that id
  kOtherCitizen,  // another citizen's consent
  kOtherPartner,  // given to another partner
  kOtherPurpose,  // given for another purpose
  kRevoked,       // the citizen withdrew it
  kExpired,       // past its expiry
};

/// Whether consent `c` (nullopt: none by the presented id) covers a request by `partner_id`
/// about the citizen `subject_hash` for `purpose` at `now_ms`. Scope is checked apart
/// (scope_of), per registry. The first reason that applies, in this order: a consent that is
/// not this partner's says nothing else (it could be probing another partner's ids), one that
/// is this partner's but another citizen's says only that.
Standing standing(const std::optional<Consent>& c, std::string_view partner_id,
                  std::string_view subject_hash, std::string_view purpose, std::int64_t now_ms);

/// The metric label and audit wording: "valid", "unknown", "other_citizen", "other_partner",
/// "other_purpose", "revoked", "expired".
std::string_view label(Standing s);
/// Why the request is refused, for the partner (names no other citizen or partner).
std::string explain(Standing s);

/// What a consent's scope lets through for one registry: nothing, everything the partner is
/// granted there ("<registry>"), or those fields only ("<registry>.<field>" entries).
struct RegistryScope {
  bool covered = false;
  bool whole = false;
  std::set<std::string> fields;
  bool allows(const std::string& field) const { return whole || fields.contains(field); }
};
RegistryScope scope_of(const std::vector<std::string>& scope, std::string_view registry);

/// What is wrong with a scope a citizen grants (unknown registry, unknown field, repeated or
/// empty), one message per problem; empty when it is well formed.
std::vector<std::string> scope_problems(const std::vector<std::string>& scope);

/// A new consent id: "cs-" and 32 lower-case hex digits from the CSPRNG.
std::string new_consent_id();
/// Whether `id` has that form (what a request's consent_id must look like).
bool well_formed_id(std::string_view id);

}  // namespace lgsp::consents
