#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace lgsp::gateway {

/// A partner system as the gateway sees it once authenticated.
struct Partner {
  std::string id;
  std::string name;
  std::set<std::string> operations;                     // "population.verify"
  std::map<std::string, std::set<std::string>> fields;  // registry -> releasable fields
  bool diacritic_insensitive = false;
  bool partial_is_enough = false;  // required grade partial instead of exact

  bool may(std::string_view registry, std::string_view operation) const;
  const std::set<std::string>& fields_of(std::string_view registry) const;
};

enum class AuthFailure { kNone, kMissing, kMalformed, kInvalid };

struct AuthResult {
  const Partner* partner = nullptr;
  AuthFailure failure = AuthFailure::kNone;
};

/// Authenticates a request from its Authorization header. Implementations: API keys now;
/// mTLS and JWT come with the security work. Thread-safe (immutable after construction).
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual AuthResult authenticate(std::string_view authorization_header) const = 0;
};

/// `Authorization: Bearer <key>`: the key's SHA-256 is compared, in constant time, with every
/// configured hash; the config never holds a key itself.
class ApiKeyAuthenticator final : public Authenticator {
 public:
  explicit ApiKeyAuthenticator(const std::vector<config::PartnerConfig>& partners);
  AuthResult authenticate(std::string_view authorization_header) const override;

 private:
  struct KeyHash {
    unsigned char digest[32];
    const Partner* partner;
  };
  std::vector<std::unique_ptr<Partner>> partners_;
  std::vector<KeyHash> keys_;
};

}  // namespace lgsp::gateway
