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
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include "gateway/openssl_handles.hpp"

namespace lgsp::gateway {
namespace {

namespace json = boost::json;

constexpr int kMinRsaBits = 2048;
// Beyond this a key costs more to verify than any issuer needs; OpenSSL's own cap is 16384.
constexpr int kMaxRsaBits = 8192;
constexpr std::size_t kEs256CoordinateBytes = 32;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Unpadded base64url (RFC 7515 §2). Unused trailing bits must be zero: otherwise several
// spellings of one signature would all verify, and a token could not be identified by its text.
std::optional<std::string> base64url_decode(std::string_view in) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : in) {
    const int v = base64url_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFFU));
    }
  }
  if ((acc & ((1U << bits) - 1U)) != 0) return std::nullopt;
  return out;
}

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

// Error text for operators; the OpenSSL queue is cleared so nothing stale reaches the next
// caller on this thread (TLS code reads the same queue to classify its own failures).
std::string openssl_reason() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "OpenSSL gave no reason";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

// ---- JWKS loading (start-up: exceptions with the reason, prefixed by the caller) ----

std::optional<std::string_view> string_member(const json::object& jwk, std::string_view key) {
  const auto* v = jwk.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) throw std::invalid_argument("\"" + std::string(key) + "\" is not a string");
  return std::string_view(v->get_string());
}

std::string required_base64url(const json::object& jwk, std::string_view key) {
  const auto text = string_member(jwk, key);
  if (!text || text->empty()) throw std::invalid_argument("\"" + std::string(key) + "\" missing");
  auto decoded = base64url_decode(*text);
  if (!decoded) {
    throw std::invalid_argument("\"" + std::string(key) + "\" is not unpadded base64url");
  }
  return std::move(*decoded);
}

PkeyPtr import_public_key(const char* type, OSSL_PARAM_BLD* builder) {
  const ParamPtr params(OSSL_PARAM_BLD_to_param(builder));
  const PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    throw std::invalid_argument("not a valid public key (" + openssl_reason() + ")");
  }
  PkeyPtr key(raw);
  // For EC this is where a point off the curve (invalid-curve attacks) is refused.
  const PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    throw std::invalid_argument("public key fails validation (" + openssl_reason() + ")");
  }
  return key;
}

PkeyPtr rsa_key(const json::object& jwk) {
  const std::string n = required_base64url(jwk, "n");
  const std::string e = required_base64url(jwk, "e");
  const BnPtr bn_n(BN_bin2bn(bytes(n), static_cast<int>(n.size()), nullptr));
  const BnPtr bn_e(BN_bin2bn(bytes(e), static_cast<int>(e.size()), nullptr));
  const ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !builder ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    throw std::invalid_argument("cannot build RSA parameters (" + openssl_reason() + ")");
  }
  // Size first, so a short key gets the actionable message rather than a validation error.
  const int bits = BN_num_bits(bn_n.get());
  if (bits < kMinRsaBits || bits > kMaxRsaBits) {
    throw std::invalid_argument("RSA key has " + std::to_string(bits) + " bits; RS256 needs " +
                                std::to_string(kMinRsaBits) + " to " + std::to_string(kMaxRsaBits));
  }
  return import_public_key("RSA", builder.get());
}

PkeyPtr ec_p256_key(const json::object& jwk) {
  const std::string x = required_base64url(jwk, "x");
  const std::string y = required_base64url(jwk, "y");
  if (x.size() != kEs256CoordinateBytes || y.size() != kEs256CoordinateBytes) {
    throw std::invalid_argument("P-256 \"x\" and \"y\" must be 32 bytes each");
  }
  std::string point = "\x04" + x + y;  // uncompressed SEC1 point
  const ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!builder ||
      OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    throw std::invalid_argument("cannot build EC parameters (" + openssl_reason() + ")");
  }
  return import_public_key("EC", builder.get());
}

// The algorithm a JWK serves, or nullopt for keys this verifier skips.
std::optional<JwsAlgorithm> usable_algorithm(const json::object& jwk) {
  if (const auto use = string_member(jwk, "use"); use && *use != "sig") return std::nullopt;
  if (const auto* ops = jwk.if_contains("key_ops")) {
    const auto* list = ops->if_array();
    if (list == nullptr) throw std::invalid_argument("\"key_ops\" is not an array");
    if (std::find(list->begin(), list->end(), json::value("verify")) == list->end()) {
      return std::nullopt;
    }
  }
  const auto kty = string_member(jwk, "kty");
  if (!kty) throw std::invalid_argument("\"kty\" missing");
  std::optional<JwsAlgorithm> alg;
  if (*kty == "RSA") {
    alg = JwsAlgorithm::kRs256;
  } else if (*kty == "EC" && string_member(jwk, "crv") == "P-256") {
    alg = JwsAlgorithm::kEs256;
  } else {
    return std::nullopt;
  }
  if (const auto declared = string_member(jwk, "alg")) {
    const bool rs256 = *declared == "RS256";
    if (rs256 || *declared == "ES256") {
      if (rs256 != (*alg == JwsAlgorithm::kRs256)) {
        throw std::invalid_argument("\"alg\" " + std::string(*declared) + " contradicts \"kty\" " +
                                    std::string(*kty));
      }
    } else {
      return std::nullopt;  // meant for an algorithm we do not accept (PS256, RS512, ...)
    }
  }
  // A published JWKS is public; private members mean the wrong file was deployed.
  for (const char* member : {"d", "p", "q", "dp", "dq", "qi"}) {
    if (jwk.contains(member)) {
      throw std::invalid_argument(std::string("contains private key member \"") + member +
                                  "\"; publish only the public key");
    }
  }
  return alg;
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

void Jwks::PkeyDeleter::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }

Jwks::Jwks() = default;
Jwks::~Jwks() = default;
Jwks::Jwks(Jwks&&) noexcept = default;
Jwks& Jwks::operator=(Jwks&&) noexcept = default;

Jwks Jwks::parse(std::string_view json_text, const std::string& name) {
  boost::system::error_code ec;
  const json::value doc = json::parse(json_text, ec);
  if (ec) throw std::runtime_error(name + ": not valid JSON (" + ec.message() + ")");
  const auto* root = doc.if_object();
  const auto* list =
      root != nullptr && root->contains("keys") ? root->at("keys").if_array() : nullptr;
  if (list == nullptr) {
    throw std::runtime_error(name + ": not a JWKS document (expected {\"keys\": [...]})");
  }

  Jwks out;
  std::set<std::string> seen_kids;
  for (std::size_t i = 0; i < list->size(); ++i) {
    std::string where = name + ": key #" + std::to_string(i);
    const auto* jwk = (*list)[i].if_object();
    if (jwk == nullptr) throw std::runtime_error(where + ": not a JSON object");
    const auto* kid_v = jwk->if_contains("kid");
    const std::string kid =
        kid_v != nullptr && kid_v->is_string() ? std::string(kid_v->get_string()) : "";
    where += kid.empty() ? " (no kid)" : " (kid '" + kid + "')";
    try {
      if (kid_v != nullptr && !kid_v->is_string()) {
        throw std::invalid_argument("\"kid\" is not a string");
      }
      const auto alg = usable_algorithm(*jwk);
      if (!alg) continue;
      if (!kid.empty() && !seen_kids.insert(kid).second) {
        throw std::invalid_argument("duplicate kid; tokens naming it would be ambiguous");
      }
      PkeyPtr key = *alg == JwsAlgorithm::kRs256 ? rsa_key(*jwk) : ec_p256_key(*jwk);
      out.keys_.push_back(Key{kid, *alg, std::unique_ptr<EVP_PKEY, PkeyDeleter>(key.release())});
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(where + ": " + e.what());
    }
  }
  if (out.keys_.empty()) {
    throw std::runtime_error(
        name +
        ": no usable signing key (RS256 needs kty RSA of at least 2048 "
        "bits, ES256 kty EC with crv P-256; \"use\" must be \"sig\" or absent)");
  }
  return out;
}

Jwks Jwks::load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open JWKS file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw std::runtime_error(path + ": cannot read JWKS file");
  return parse(text.str(), path);
}

std::vector<std::string> Jwks::kids() const {
  std::vector<std::string> out;
  out.reserve(keys_.size());
  for (const auto& k : keys_) out.push_back(k.kid);
  return out;
}

std::variant<EVP_PKEY*, JwtError> Jwks::find(std::optional<std::string_view> kid,
                                             JwsAlgorithm alg) const {
  if (kid) {
    for (const auto& k : keys_) {
      if (k.kid.empty() || k.kid != *kid) continue;
      if (k.alg != alg) return JwtError::kUnsupportedAlgorithm;
      return k.pkey.get();
    }
    return JwtError::kUnknownKey;
  }
  EVP_PKEY* only = nullptr;
  for (const auto& k : keys_) {
    if (k.alg != alg) continue;
    if (only != nullptr) return JwtError::kUnknownKey;  // ambiguous without a kid
    only = k.pkey.get();
  }
  if (only == nullptr) return JwtError::kUnknownKey;
  return only;
}

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
  return check_claims(*claims, settings, now);
}

bool looks_like_jwt(std::string_view token) {
  const auto first = token.find('.');
  if (first == 0 || first == std::string_view::npos) return false;
  const auto second = token.find('.', first + 1);
  if (second == first + 1 || second == std::string_view::npos) return false;
  return std::all_of(token.begin(), token.end(),
                     [](char c) { return c == '.' || base64url_value(c) >= 0; }) &&
         token.find('.', second + 1) == std::string_view::npos;
}

}  // namespace lgsp::gateway
