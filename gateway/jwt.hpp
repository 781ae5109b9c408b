#pragma once

#include <openssl/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace lgsp::gateway {

/// What a bearer JWT must say to be accepted. An empty issuer or an empty audience list
/// accepts no token at all: a half-configured verifier fails closed.
struct JwtSettings {
  std::string issuer;                   // required exact match of "iss"
  std::vector<std::string> audiences;   // token "aud" (string or array) must contain one
  std::chrono::seconds clock_skew{60};  // leeway for exp / nbf / iat
};

/// The claims the gateway uses once a token has verified. `client_id` is the "client_id"
/// claim (RFC 9068), else "azp"; empty when the token has neither, and the caller decides.
struct JwtClaims {
  std::string subject;
  std::string client_id;
  std::string issuer;
  std::string jti;
  std::int64_t expires_at = 0;  // seconds since the epoch
};

enum class JwtError {
  kMalformed,
  kUnsupportedAlgorithm,
  kUnknownKey,
  kBadSignature,
  kExpired,
  kNotYetValid,
  kWrongIssuer,
  kWrongAudience,
  kMissingExpiry,
  kNotAnAccessToken,  // header typ is not at+jwt (RFC 9068)
};

/// Short operator/partner-facing text; never contains token content.
std::string_view describe(JwtError error);

/// The only JWS algorithms accepted; each is tied to one key type.
enum class JwsAlgorithm { kRs256, kEs256 };

/// Public keys from a JWKS document (RFC 7517): RSA (n, e; at least 2048 bits) for RS256 and
/// EC P-256 (x, y) for ES256. Keys with "use" other than "sig", "key_ops" without "verify", or
/// an "alg"/"kty"/"crv" this verifier does not support are skipped; a supported key that is
/// broken, contradicts itself or carries private material is an error, as is a document left
/// with no usable key. Immutable after load: share one instance across threads freely.
class Jwks {
 public:
  Jwks();  // empty: every lookup fails with kUnknownKey
  ~Jwks();
  Jwks(Jwks&&) noexcept;
  Jwks& operator=(Jwks&&) noexcept;
  Jwks(const Jwks&) = delete;
  Jwks& operator=(const Jwks&) = delete;

  /// Throws std::runtime_error "<name>: key #i (kid 'x'): reason" (i counts from 0).
  static Jwks parse(std::string_view json_text, const std::string& name);
  /// Same as parse, with the path as the name.
  static Jwks load_file(const std::string& path);

  std::size_t size() const { return keys_.size(); }
  /// The kids of the usable keys, in document order (for a start-up log line).
  std::vector<std::string> kids() const;

  /// The key for a token: by kid when the token names one, otherwise the only key usable with
  /// `alg`. kUnknownKey when nothing matches (or, without a kid, more than one key could);
  /// kUnsupportedAlgorithm when the kid names a key of the other type (algorithm confusion).
  /// The key is not modified by verification, hence a mutable pointer from a const method.
  std::variant<EVP_PKEY*, JwtError> find(std::optional<std::string_view> kid,
                                         JwsAlgorithm alg) const;

 private:
  struct PkeyDeleter {
    void operator()(EVP_PKEY* key) const;
  };
  struct Key {
    std::string kid;  // empty when the JWK has none
    JwsAlgorithm alg;
    std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey;
  };
  std::vector<Key> keys_;
};

/// Maximum accepted token length; longer is kMalformed before any decoding.
inline constexpr std::size_t kMaxJwtBytes = std::size_t{8} * 1024;

/// Verifies a compact JWS (the token alone, without "Bearer "): algorithm, key, signature,
/// then exp / nbf / iat / iss / aud against `now`. Never throws on bad input; header fields
/// that point elsewhere for keys (jku, x5u, jwk) are ignored, keys come only from `keys`.
std::variant<JwtClaims, JwtError> verify_jwt(std::string_view token, const Jwks& keys,
                                             const JwtSettings& settings,
                                             std::chrono::system_clock::time_point now);

/// Cheap shape check telling JWTs from API keys: three base64url segments separated by dots,
/// the first two non-empty. The signature may be empty so that unsigned ("alg":"none")
/// tokens still reach verify_jwt and are refused with a JWT reason.
bool looks_like_jwt(std::string_view token);

}  // namespace lgsp::gateway
