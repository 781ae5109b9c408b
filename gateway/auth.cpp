#include "gateway/auth.hpp"

#include <openssl/crypto.h>

#include <cctype>

#include "util/hashing.hpp"

namespace lgsp::gateway {
namespace {

unsigned char hex_value(char c) {
  return static_cast<unsigned char>(c <= '9' ? c - '0' : c - 'a' + 10);
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

AuthResult fail(AuthFailure f, std::string_view method = {}) { return {nullptr, f, method}; }

}  // namespace

bool Partner::may(std::string_view registry, std::string_view operation) const {
  return operations.contains(std::string(registry) + "." + std::string(operation));
}

const std::set<std::string>& Partner::fields_of(std::string_view registry) const {
  static const std::set<std::string> kNone;
  const auto it = fields.find(std::string(registry));
  return it == fields.end() ? kNone : it->second;
}

bool Partner::may_state(std::string_view purpose) const {
  return purposes.empty() || purposes.contains(std::string(purpose));
}

PartnerDirectory::Issuer::Issuer(const config::JwtConfig& c) {
  if (!c.enabled()) return;
  keys = Jwks::load_file(c.jwks_file);
  settings.issuer = c.issuer;
  settings.audiences = c.audiences;
  settings.clock_skew = std::chrono::seconds(c.clock_skew_s);
}

PartnerDirectory::PartnerDirectory(const std::vector<config::PartnerConfig>& partners,
                                   const config::AuthConfig& auth)
    : partner_tokens_(auth.jwt), citizens_(auth.citizen.tokens) {
  for (const auto& pc : partners) {
    auto p = std::make_unique<Partner>(Partner{
        pc.id, pc.name, pc.operations, pc.fields, pc.name_matching == "diacritic-insensitive",
        pc.required_grade == "partial", pc.purposes, pc.rate_limit, pc.operation_limits,
        pc.daily_quota, pc.year_only_dates, pc.withhold_days, pc.changes});
    for (const auto& hex : pc.api_key_sha256) {
      KeyHash k{};
      for (std::size_t i = 0; i < 32; ++i) {
        k.digest[i] =
            static_cast<unsigned char>(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
      }
      k.partner = p.get();
      keys_.push_back(k);
    }
    for (const auto& id : pc.oauth_client_ids) by_client_id_[id] = p.get();
    for (const auto& fp : pc.client_cert_sha256) by_cert_sha256_[fp] = p.get();
    for (const auto& s : pc.client_cert_subjects) by_cert_subject_[s] = p.get();
    partners_.push_back(std::move(p));
  }
}

const Partner* PartnerDirectory::find(std::string_view id) const {
  for (const auto& p : partners_) {
    if (p->id == id) return p.get();
  }
  return nullptr;
}

AuthResult PartnerDirectory::authenticate(std::string_view header, const PeerIdentity& peer,
                                          std::chrono::system_clock::time_point now) const {
  AuthResult cert = by_certificate(peer);
  if (header.empty()) return cert;

  constexpr std::string_view kBearer = "bearer ";
  if (!iequals_prefix(header, kBearer)) return fail(AuthFailure::kMalformed);
  std::string_view credential = header.substr(kBearer.size());
  while (!credential.empty() && credential.front() == ' ') credential.remove_prefix(1);
  while (!credential.empty() && credential.back() == ' ') credential.remove_suffix(1);
  if (credential.empty() || credential.size() > 8192) return fail(AuthFailure::kMalformed);

  AuthResult by_header = partner_tokens_.keys && looks_like_jwt(credential)
                             ? by_token(credential, now)
                             : by_api_key(credential);
  if (by_header.partner != nullptr && cert.partner != nullptr && cert.partner != by_header.partner)
    return fail(AuthFailure::kConflict, by_header.method);
  return by_header;
}

AuthResult PartnerDirectory::by_api_key(std::string_view key) const {
  if (key.size() > 512) return fail(AuthFailure::kMalformed, "api_key");
  const auto digest = util::sha256(key);
  const Partner* found = nullptr;
  // Compare against every key without stopping early: the time taken says nothing about
  // which key (or how much of one) matched.
  for (const auto& k : keys_) {
    if (CRYPTO_memcmp(k.digest, digest.data(), digest.size()) == 0) found = k.partner;
  }
  return found != nullptr ? AuthResult{found, AuthFailure::kNone, "api_key"}
                          : fail(AuthFailure::kInvalidKey, "api_key");
}

AuthResult PartnerDirectory::by_token(std::string_view token,
                                      std::chrono::system_clock::time_point now) const {
  auto verified = verify_jwt(token, *partner_tokens_.keys, partner_tokens_.settings, now);
  if (const auto* e = std::get_if<JwtError>(&verified)) {
    AuthResult r = fail(AuthFailure::kInvalidToken, "jwt");
    r.jwt_error = *e;
    return r;
  }
  const auto& claims = std::get<JwtClaims>(verified);
  // The client the token was issued to (client_id, else azp), never its subject: a user's
  // token whose sub happens to equal a partner's client id must not act as that partner.
  if (!claims.client_id.empty()) {
    if (const auto it = by_client_id_.find(claims.client_id); it != by_client_id_.end())
      return {it->second, AuthFailure::kNone, "jwt"};
  }
  return fail(AuthFailure::kUnknownClient, "jwt");
}

std::variant<std::string, JwtError> PartnerDirectory::citizen(
    std::string_view token, std::chrono::system_clock::time_point now) const {
  if (!citizens_.keys) return JwtError::kUnknownKey;
  auto verified = verify_jwt(token, *citizens_.keys, citizens_.settings, now);
  if (const auto* e = std::get_if<JwtError>(&verified)) return *e;
  return std::move(std::get<JwtClaims>(verified).subject);
}

AuthResult PartnerDirectory::by_certificate(const PeerIdentity& peer) const {
  if (!peer.cert_presented) return fail(AuthFailure::kMissing);
  if (!peer.cert_verified) {
    AuthResult r = fail(AuthFailure::kUntrustedCert, "mtls");
    r.cert_problem = peer.cert_problem;
    return r;
  }
  if (const auto it = by_cert_sha256_.find(peer.cert_sha256); it != by_cert_sha256_.end())
    return {it->second, AuthFailure::kNone, "mtls"};
  if (const auto it = by_cert_subject_.find(peer.cert_subject); it != by_cert_subject_.end())
    return {it->second, AuthFailure::kNone, "mtls"};
  return fail(AuthFailure::kUnknownCert, "mtls");
}

std::string auth_detail(const AuthResult& r) {
  switch (r.failure) {
    case AuthFailure::kMissing:
      return "send 'Authorization: Bearer <API key or access token>' or a client certificate";
    case AuthFailure::kMalformed:
      return "the Authorization header must be 'Bearer <API key or access token>'";
    case AuthFailure::kInvalidKey:
      return "the API key is not valid (revoked, mistyped, or for another environment)";
    case AuthFailure::kInvalidToken:
      return "the access token was refused: " + std::string(describe(r.jwt_error));
    case AuthFailure::kUnknownClient:
      return "the access token is valid but its client_id is not a registered partner";
    case AuthFailure::kUntrustedCert:
      return "the client certificate was refused: " +
             (r.cert_problem.empty() ? std::string("it does not chain to the CA this gateway "
                                                   "trusts for partners")
                                     : r.cert_problem) +
             " (it must chain to the partner CA, within the verify depth, and not be revoked)";
    case AuthFailure::kUnknownCert:
      return "the client certificate is trusted but registered to no partner";
    case AuthFailure::kConflict:
      return "the client certificate and the Authorization header name different partners";
    case AuthFailure::kNone:
      break;
  }
  return {};
}

}  // namespace lgsp::gateway
