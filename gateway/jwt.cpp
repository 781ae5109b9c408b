#include "gateway/jwt.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include "gateway/jose.hpp"
#include "gateway/openssl_handles.hpp"

namespace lgsp::gateway {
namespace {

namespace json = boost::json;
using jose::base64url_decode;
using jose::bytes;
using jose::kEs256CoordinateBytes;

std::optional<json::object> decode_object(std::string_view segment) {
  const auto text = base64url_decode(segment);
  if (!text) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

// NumericDate (RFC 7519 §2) may be fractional; out-of-range values saturate rather than
// wrap, so a far-future exp stays in the future.
std::optional<std::int64_t> numeric_date(const json::value& v) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  if (const auto* i = v.if_int64()) return *i;
  if (const auto* u = v.if_uint64()) {
    return *u > static_cast<std::uint64_t>(kMax) ? kMax : static_cast<std::int64_t>(*u);
  }
  if (const auto* d = v.if_double()) {
    if (*d >= 9.2e18) return kMax;
    if (*d <= -9.2e18) return kMin;
    return static_cast<std::int64_t>(std::floor(*d));
  }
  return std::nullopt;
}

// ---- Token verification (data path: return values, no exceptions) ----

// JWS carries ES256 signatures as raw r||s (RFC 7518 §3.4); OpenSSL verifies DER.
std::optional<std::string> es256_to_der(std::string_view raw) {
  if (raw.size() != 2 * kEs256CoordinateBytes) return std::nullopt;
  const EcdsaSigPtr sig(ECDSA_SIG_new());
  constexpr int kHalf = static_cast<int>(kEs256CoordinateBytes);
  BnPtr r(BN_bin2bn(bytes(raw), kHalf, nullptr));
  BnPtr s(BN_bin2bn(bytes(raw) + kHalf, kHalf, nullptr));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  // set0 succeeded, so sig owns r and s now.
  static_cast<void>(r.release());
  static_cast<void>(s.release());
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != len) return std::nullopt;
  return der;
}

bool signature_verifies(JwsAlgorithm alg, EVP_PKEY* key, std::string_view signing_input,
                        std::string_view signature) {
  std::optional<std::string> der;
  if (alg == JwsAlgorithm::kEs256) {
    der = es256_to_der(signature);
    if (!der) return false;
    signature = *der;
  }
  const MdCtxPtr ctx(EVP_MD_CTX_new());
  const bool ok = ctx &&
                  EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
                  EVP_DigestVerify(ctx.get(), bytes(signature), signature.size(),
                                   bytes(signing_input), signing_input.size()) == 1;
  // A bad signature leaves errors on the thread's queue; see openssl_reason.
  ERR_clear_error();
  return ok;
}

bool audience_matches(const json::value* aud, const std::vector<std::string>& accepted) {
  if (aud == nullptr) return false;
  const auto ours = [&](const json::value& v) {
    return v.is_string() && std::find(accepted.begin(), accepted.end(),
                                      std::string_view(v.get_string())) != accepted.end();
  };
  if (const auto* list = aud->if_array()) return std::any_of(list->begin(), list->end(), ours);
  return ours(*aud);
}

// Optional string claim: absent → empty; present with another type → false.
bool read_string_claim(const json::object& claims, std::string_view name, std::string& out) {
  const auto* v = claims.if_contains(name);
  if (v == nullptr) return true;
  if (!v->is_string()) return false;
  out = v->get_string();
  return true;
}

std::variant<JwtClaims, JwtError> check_claims(const json::object& claims,
                                               const JwtSettings& settings,
                                               std::chrono::system_clock::time_point now) {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  const std::int64_t now_s = duration_cast<seconds>(now.time_since_epoch()).count();
  const std::int64_t skew = std::max<std::int64_t>(settings.clock_skew.count(), 0);

  const auto* exp_v = claims.if_contains("exp");
  if (exp_v == nullptr) return JwtError::kMissingExpiry;
  const auto exp = numeric_date(*exp_v);
  if (!exp) return JwtError::kMalformed;
  if (*exp <= now_s - skew) return JwtError::kExpired;
  for (const char* name : {"nbf", "iat"}) {
    if (const auto* v = claims.if_contains(name)) {
      const auto t = numeric_date(*v);
      if (!t) return JwtError::kMalformed;
      if (*t > now_s + skew) return JwtError::kNotYetValid;
    }
  }

  const auto* iss = claims.if_contains("iss");
  if (settings.issuer.empty() || iss == nullptr || !iss->is_string() ||
      iss->get_string() != settings.issuer) {
    return JwtError::kWrongIssuer;
  }
  if (!audience_matches(claims.if_contains("aud"), settings.audiences)) {
    return JwtError::kWrongAudience;
  }

  JwtClaims out;
  out.issuer = settings.issuer;
  out.expires_at = *exp;
  if (!read_string_claim(claims, "sub", out.subject) ||
      !read_string_claim(claims, "jti", out.jti) ||
      !read_string_claim(claims, "client_id", out.client_id)) {
    return JwtError::kMalformed;
  }
  if (out.client_id.empty() && !read_string_claim(claims, "azp", out.client_id)) {
    return JwtError::kMalformed;
  }
  return out;
}

}  // namespace

namespace {
/// "at+jwt" or "application/at+jwt", in any case (RFC 9068 §2.1, RFC 7515 §4.1.9).
bool is_access_token_type(std::string_view typ) {
  constexpr std::string_view kPrefix = "application/";
  if (typ.size() > kPrefix.size() &&
      std::equal(kPrefix.begin(), kPrefix.end(), typ.begin(),
                 [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
    typ.remove_prefix(kPrefix.size());
  }
  constexpr std::string_view kType = "at+jwt";
  return typ.size() == kType.size() &&
         std::equal(kType.begin(), kType.end(), typ.begin(), [](char a, char b) {
           return a == std::tolower(static_cast<unsigned char>(b));
         });
}
}  // namespace

std::string_view describe(JwtError error) {
  switch (error) {
    case JwtError::kMalformed:
      return "bearer token is not a well-formed JWT";
    case JwtError::kUnsupportedAlgorithm:
      return "token algorithm not accepted: RS256 or ES256, matching the key's type";
    case JwtError::kUnknownKey:
      return "token is signed with a key not in the configured JWKS (check its kid)";
    case JwtError::kBadSignature:
      return "token signature does not verify";
    case JwtError::kExpired:
      return "token has expired";
    case JwtError::kNotYetValid:
      return "token is not valid yet (nbf or iat in the future; check clocks)";
    case JwtError::kWrongIssuer:
      return "token issuer (iss) is not the configured issuer";
    case JwtError::kWrongAudience:
      return "token audience (aud) does not include this gateway";
    case JwtError::kMissingExpiry:
      return "token has no expiry (exp)";
    case JwtError::kNotAnAccessToken:
      return "token is not an OAuth2 access token (header typ must be at+jwt, RFC 9068)";
  }
  return "token rejected";
}

std::variant<JwtClaims, JwtError> verify_jwt(std::string_view token, const Jwks& keys,
                                             const JwtSettings& settings,
                                             std::chrono::system_clock::time_point now) {
  if (token.empty() || token.size() > kMaxJwtBytes) return JwtError::kMalformed;
  const auto first = token.find('.');
  const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return JwtError::kMalformed;
  }

  const auto header = decode_object(token.substr(0, first));
  if (!header) return JwtError::kMalformed;
  const auto* alg_v = header->if_contains("alg");
  if (alg_v == nullptr || !alg_v->is_string()) return JwtError::kMalformed;
  JwsAlgorithm alg{};
  if (alg_v->get_string() == "RS256") {
    alg = JwsAlgorithm::kRs256;
  } else if (alg_v->get_string() == "ES256") {
    alg = JwsAlgorithm::kEs256;
  } else {
    return JwtError::kUnsupportedAlgorithm;
  }
  // RFC 7515 §4.1.11: extensions listed in "crit" must be understood; we understand none.
  if (header->contains("crit")) return JwtError::kMalformed;
  std::optional<std::string_view> kid;
  if (const auto* kid_v = header->if_contains("kid")) {
    if (!kid_v->is_string() || kid_v->get_string().empty()) return JwtError::kMalformed;
    kid = kid_v->get_string();
  }

  const auto key = keys.find(kid, alg);
  if (const auto* error = std::get_if<JwtError>(&key)) return *error;
  const auto signature = base64url_decode(token.substr(second + 1));
  if (!signature) return JwtError::kMalformed;
  if (!signature_verifies(alg, std::get<EVP_PKEY*>(key), token.substr(0, second), *signature)) {
    return JwtError::kBadSignature;
  }

  // Claims are only parsed once the issuer is known to have signed them.
  const auto claims = decode_object(token.substr(first + 1, second - first - 1));
  if (!claims) return JwtError::kMalformed;
  // RFC 9068 §4: an access token says so, so an ID token or any other JWT the identity
  // provider signed for another purpose is not taken for one.
  const auto* typ_v = header->if_contains("typ");
  if (typ_v == nullptr || !typ_v->is_string() || !is_access_token_type(typ_v->get_string())) {
    return JwtError::kNotAnAccessToken;
  }
  return check_claims(*claims, settings, now);
}

bool looks_like_jwt(std::string_view token) {
  const auto first = token.find('.');
  if (first == 0 || first == std::string_view::npos) return false;
  const auto second = token.find('.', first + 1);
  if (second == first + 1 || second == std::string_view::npos) return false;
  return std::all_of(token.begin(), token.end(),
                     [](char c) { return c == '.' || jose::is_base64url_char(c); }) &&
         token.find('.', second + 1) == std::string_view::npos;
}

}  // namespace lgsp::gateway
