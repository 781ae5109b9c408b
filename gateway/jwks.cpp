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

#include "gateway/jose.hpp"
#include "gateway/openssl_handles.hpp"

namespace lgsp::gateway {
namespace {

namespace json = boost::json;
using jose::base64url_decode;
using jose::bytes;
using jose::kEs256CoordinateBytes;
using jose::openssl_reason;

constexpr int kMinRsaBits = 2048;
// Beyond this a key costs more to verify than any issuer needs; OpenSSL's own cap is 16384.
constexpr int kMaxRsaBits = 8192;

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

}  // namespace lgsp::gateway
