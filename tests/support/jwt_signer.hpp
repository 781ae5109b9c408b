#pragma once

#include <openssl/types.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace lgsp::testing {

/// Unpadded base64url (RFC 7515 §2), for tests that assemble tokens by hand.
std::string base64url_encode(std::string_view bytes);
/// The inverse, for taking tokens apart; throws std::invalid_argument on a bad character.
std::string base64url_decode(std::string_view text);

/// The usual client-credentials access-token claims: iss, aud, sub = client_id = `client_id`,
/// iat = now, exp = now + lifetime.
boost::json::object access_token_claims(
    std::string_view issuer, std::string_view audience, std::string_view client_id,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now(),
    std::chrono::seconds lifetime = std::chrono::minutes(5));

/// A stand-in OAuth2 authorisation server: a fresh RSA key (RS256) and a fresh EC P-256 key
/// (ES256), published as a JWKS and used to sign tokens. Another TestIssuer has other keys,
/// even under the same kids, so its tokens fail the signature check against this one's JWKS;
/// give it other kids to get kUnknownKey instead. Generating the RSA key takes ~0.1 s: share
/// one per suite. Neither copyable nor movable; const methods are safe from any thread.
class TestIssuer {
 public:
  explicit TestIssuer(std::string rsa_kid = "rsa-1", std::string ec_kid = "ec-1",
                      int rsa_bits = 2048);
  ~TestIssuer();
  TestIssuer(const TestIssuer&) = delete;
  TestIssuer& operator=(const TestIssuer&) = delete;

  const std::string& rsa_kid() const { return rsa_kid_; }
  const std::string& ec_kid() const { return ec_kid_; }

  /// The two public JWKs ("use":"sig", "alg" set), to merge several issuers into one JWKS.
  boost::json::array public_jwks() const;
  /// {"keys": [rsa, ec]}: what an authorisation server publishes.
  std::string jwks() const;
  /// Writes jwks() to `path` (for a gateway config that names a JWKS file); throws on failure.
  void write_jwks(const std::string& path) const;

  /// A compact JWS with header {"alg", "typ":"at+jwt", "kid"} over `claims`. `kid` unset: this
  /// issuer's kid for the algorithm (none for "none"); an empty string: no kid in the header.
  /// `alg` may be "RS256", "ES256", or, to test refusals, "HS256" or "none" (see sign_raw).
  std::string sign(std::string_view alg, const boost::json::object& claims,
                   std::optional<std::string> kid = std::nullopt) const;

  /// Signs exactly these header and payload texts (no JSON check, so malformed content can be
  /// signed) with the key for `key_alg`: "RS256" / "ES256" with this issuer's keys, "HS256"
  /// as HMAC keyed with the RSA public key's DER (the classic algorithm-confusion forgery),
  /// "none" with an empty signature. Throws std::invalid_argument for anything else.
  std::string sign_raw(std::string_view key_alg, std::string_view header,
                       std::string_view payload) const;

 private:
  struct PkeyDeleter {
    void operator()(EVP_PKEY* key) const;
  };
  std::string rsa_kid_;
  std::string ec_kid_;
  std::unique_ptr<EVP_PKEY, PkeyDeleter> rsa_;
  std::unique_ptr<EVP_PKEY, PkeyDeleter> ec_;
};

}  // namespace lgsp::testing
