#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "gateway/jwt.hpp"
#include "http/server.hpp"

namespace lgsp::gateway {

/// A partner system as the gateway sees it once authenticated.
struct Partner {
  std::string id;
  std::string name;
  std::set<std::string> operations;                     // "population.verify"
  std::map<std::string, std::set<std::string>> fields;  // registry -> releasable fields
  bool diacritic_insensitive = false;
  bool partial_is_enough = false;  // required grade partial instead of exact
  std::set<std::string> purposes;  // empty = any stated purpose
  config::RateLimit rate_limit;
  std::map<std::string, config::RateLimit> operation_limits;
  std::int64_t daily_quota = 0;
  bool year_only_dates = false;    // a year alone is accepted as a claimed date
  std::int64_t withhold_days = 0;  // lawful investigations kept out of access logs; 0 = no
  /// Change feed grants: "<registry>.<command>" -> data members (config::PartnerConfig).
  std::map<std::string, std::set<std::string>> changes;

  bool may(std::string_view registry, std::string_view operation) const;
  const std::set<std::string>& fields_of(std::string_view registry) const;
  bool may_state(std::string_view purpose) const;
};

/// What the TLS handshake learnt about the peer.
using PeerIdentity = http::PeerInfo;

enum class AuthFailure {
  kNone,
  kMissing,        // no credentials at all
  kMalformed,      // Authorization header not "Bearer <credential>"
  kInvalidKey,     // unknown or revoked API key
  kInvalidToken,   // JWT failed verification (see jwt_error)
  kUnknownClient,  // valid JWT, but its client_id/sub names no partner
  kUntrustedCert,  // client certificate does not chain to the configured CA
  kUnknownCert,    // trusted certificate that maps to no partner
  kConflict,       // certificate and header name different partners
};

struct AuthResult {
  const Partner* partner = nullptr;
  AuthFailure failure = AuthFailure::kNone;
  std::string_view method;  // "api_key", "jwt", "mtls"
  JwtError jwt_error = JwtError::kMalformed;
  std::string cert_problem{};  // kUntrustedCert: OpenSSL's reason (e.g. "certificate revoked")
};

/// The configured partners and every way they may authenticate: API keys (only SHA-256
/// hashes are held; compared in constant time), OAuth2 bearer JWTs (RS256/ES256 against the
/// JWKS file, client_id or sub → partner) and client certificates (fingerprint or subject →
/// partner). An Authorization header wins; a verified certificate that names another partner
/// is a conflict. Immutable after construction, so one instance is shared by every thread;
/// a reload builds a new one (throws std::runtime_error when the JWKS file is unusable).
class PartnerDirectory {
 public:
  PartnerDirectory(const std::vector<config::PartnerConfig>& partners,
                   const config::AuthConfig& auth);
  AuthResult authenticate(std::string_view authorization, const PeerIdentity& peer,
                          std::chrono::system_clock::time_point now) const;
  /// Whether citizen access tokens can be checked (auth.citizen is configured).
  bool checks_citizens() const { return citizens_.keys.has_value(); }
  /// The citizen an access token of the citizen identity provider was issued for (its
  /// "sub"), or why the token is refused. kUnknownKey when none is configured.
  std::variant<std::string, JwtError> citizen(std::string_view token,
                                              std::chrono::system_clock::time_point now) const;
  const Partner* find(std::string_view id) const;
  std::size_t size() const { return partners_.size(); }

 private:
  struct KeyHash {
    unsigned char digest[32];
    const Partner* partner;
  };
  AuthResult by_api_key(std::string_view key) const;
  AuthResult by_token(std::string_view token, std::chrono::system_clock::time_point now) const;
  AuthResult by_certificate(const PeerIdentity& peer) const;

  std::vector<std::unique_ptr<Partner>> partners_;
  std::vector<KeyHash> keys_;
  std::unordered_map<std::string, const Partner*> by_client_id_;
  std::unordered_map<std::string, const Partner*> by_cert_sha256_;
  std::unordered_map<std::string, const Partner*> by_cert_subject_;
  /// One identity provider: its keys (none when not configured) and what its tokens say.
  struct Issuer {
    std::optional<Jwks> keys;
    JwtSettings settings;
    explicit Issuer(const config::JwtConfig& c);
  };
  Issuer partner_tokens_;
  Issuer citizens_;
};

/// The operator-facing sentence for a failure (what to send instead); no credential content.
std::string auth_detail(const AuthResult& r);

}  // namespace lgsp::gateway
