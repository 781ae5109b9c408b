#include "tests/support/jwt_signer.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <boost/json/serialize.hpp>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "gateway/openssl_handles.hpp"

namespace lgsp::testing {
namespace {

namespace json = boost::json;

using gateway::BnPtr;
using gateway::EcdsaSigPtr;
using gateway::MdCtxPtr;

constexpr int kP256Bytes = 32;
constexpr char kBase64UrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

[[noreturn]] void fail(const std::string& what) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  char reason[256] = "no OpenSSL reason";
  if (code != 0) ERR_error_string_n(code, reason, sizeof reason);
  throw std::runtime_error("TestIssuer: " + what + " (" + reason + ")");
}

EVP_PKEY* generate(const char* type, int rsa_bits) {
  // EVP_PKEY_Q_keygen is variadic: RSA takes a size_t bit count, EC a curve name.
  EVP_PKEY* key = std::string_view(type) == "RSA"
                      ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(rsa_bits))
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (key == nullptr) fail(std::string("cannot generate ") + type + " key");
  return key;
}

std::string bn_param(const EVP_PKEY* key, const char* name, int pad_to = 0) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) fail(std::string("cannot read ") + name);
  const BnPtr bn(raw);
  const int size = pad_to > 0 ? pad_to : BN_num_bytes(bn.get());
  std::string out(static_cast<std::size_t>(size), '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), size) != size) {
    fail(std::string("cannot encode ") + name);
  }
  return out;
}

std::string digest_sign(EVP_PKEY* key, std::string_view input) {
  const MdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, bytes(input), input.size()) != 1) {
    fail("cannot start signing");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, bytes(input),
                     input.size()) != 1) {
    fail("cannot sign");
  }
  sig.resize(len);
  return sig;
}

// OpenSSL signs ECDSA as DER; JWS wants raw r||s, each left-padded to 32 bytes.
std::string der_to_raw(const std::string& der) {
  const unsigned char* p = bytes(der);
  const EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) fail("cannot decode ECDSA signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(std::size_t{2} * kP256Bytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, kP256Bytes) != kP256Bytes ||
      BN_bn2binpad(s, out + kP256Bytes, kP256Bytes) != kP256Bytes) {
    fail("cannot encode ECDSA signature");
  }
  return raw;
}

}  // namespace

std::string base64url_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : in) {
    acc = (acc << 8) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kBase64UrlAlphabet[(acc >> bits) & 0x3FU]);
    }
  }
  if (bits > 0) out.push_back(kBase64UrlAlphabet[(acc << (6 - bits)) & 0x3FU]);
  return out;
}

std::string base64url_decode(std::string_view text) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    const auto* pos = std::strchr(kBase64UrlAlphabet, c);
    if (c == '\0' || pos == nullptr) throw std::invalid_argument("not base64url");
    acc = (acc << 6) | static_cast<std::uint32_t>(pos - kBase64UrlAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFFU));
    }
  }
  return out;
}

json::object access_token_claims(std::string_view issuer, std::string_view audience,
                                 std::string_view client_id,
                                 std::chrono::system_clock::time_point now,
                                 std::chrono::seconds lifetime) {
  const auto now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return json::object{{"iss", issuer},    {"aud", audience},
                      {"sub", client_id}, {"client_id", client_id},
                      {"iat", now_s},     {"exp", now_s + lifetime.count()}};
}

void TestIssuer::PkeyDeleter::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }

TestIssuer::TestIssuer(std::string rsa_kid, std::string ec_kid, int rsa_bits)
    : rsa_kid_(std::move(rsa_kid)),
      ec_kid_(std::move(ec_kid)),
      rsa_(generate("RSA", rsa_bits)),
      ec_(generate("EC", 0)) {}

TestIssuer::~TestIssuer() = default;

json::array TestIssuer::public_jwks() const {
  json::object rsa{{"kty", "RSA"},
                   {"use", "sig"},
                   {"alg", "RS256"},
                   {"kid", rsa_kid_},
                   {"n", base64url_encode(bn_param(rsa_.get(), OSSL_PKEY_PARAM_RSA_N))},
                   {"e", base64url_encode(bn_param(rsa_.get(), OSSL_PKEY_PARAM_RSA_E))}};
  json::object ec{
      {"kty", "EC"},
      {"crv", "P-256"},
      {"use", "sig"},
      {"alg", "ES256"},
      {"kid", ec_kid_},
      {"x", base64url_encode(bn_param(ec_.get(), OSSL_PKEY_PARAM_EC_PUB_X, kP256Bytes))},
      {"y", base64url_encode(bn_param(ec_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, kP256Bytes))}};
  return json::array{std::move(rsa), std::move(ec)};
}

std::string TestIssuer::jwks() const {
  return json::serialize(json::object{{"keys", public_jwks()}});
}

void TestIssuer::write_jwks(const std::string& path) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << jwks();
  out.close();
  if (!out) throw std::runtime_error("TestIssuer: cannot write " + path);
}

std::string TestIssuer::sign(std::string_view alg, const json::object& claims,
                             std::optional<std::string> kid) const {
  if (!kid) kid = alg == "ES256" ? ec_kid_ : alg == "none" ? "" : rsa_kid_;
  json::object header{{"alg", alg}, {"typ", "at+jwt"}};
  if (!kid->empty()) header["kid"] = *kid;
  return sign_raw(alg, json::serialize(header), json::serialize(claims));
}

std::string TestIssuer::sign_raw(std::string_view key_alg, std::string_view header,
                                 std::string_view payload) const {
  const std::string input = base64url_encode(header) + "." + base64url_encode(payload);
  std::string sig;
  if (key_alg == "RS256") {
    sig = digest_sign(rsa_.get(), input);
  } else if (key_alg == "ES256") {
    sig = der_to_raw(digest_sign(ec_.get(), input));
  } else if (key_alg == "HS256") {
    unsigned char* der = nullptr;
    const int der_len = i2d_PUBKEY(rsa_.get(), &der);
    if (der_len <= 0) fail("cannot encode RSA public key");
    unsigned char mac[EVP_MAX_MD_SIZE];
    std::size_t mac_len = 0;
    const bool ok = EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, der,
                              static_cast<std::size_t>(der_len), bytes(input), input.size(), mac,
                              sizeof mac, &mac_len) != nullptr;
    OPENSSL_free(der);
    if (!ok) fail("cannot compute HMAC");
    sig.assign(reinterpret_cast<const char*>(mac), mac_len);
  } else if (key_alg != "none") {
    throw std::invalid_argument("TestIssuer: cannot sign with " + std::string(key_alg));
  }
  return input + "." + base64url_encode(sig);
}

}  // namespace lgsp::testing
