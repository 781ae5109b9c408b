// lgsp-citizen-idp: the citizen identity provider as the gateway sees it (the citizen app's
// sign-in), for the dev stack and the scripts that drive it. NOT part of the product: a real
// deployment trusts the national citizen identity provider's published keys instead.
//
//   lgsp-citizen-idp --dir DIR                  creates DIR/signing-key.pem (EC P-256) when
//                                               missing and writes DIR/jwks.json, the public
//                                               key for auth.citizen.jwks_file
//   lgsp-citizen-idp --dir DIR --citizen ID     also prints an access token (ES256, typ
//                                               at+jwt) whose subject is that citizen, as the
//                                               provider would issue it after the citizen
//                                               signed in
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

namespace json = boost::json;

constexpr std::size_t kP256Bytes = 32;
constexpr const char* kKid = "dev-citizen-idp-1";

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

std::string base64url(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (const unsigned char c : in) {
    bits = (bits << 8U) | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out += kAlphabet[(bits >> static_cast<unsigned>(count)) & 0x3FU];
    }
  }
  if (count > 0) out += kAlphabet[(bits << static_cast<unsigned>(6 - count)) & 0x3FU];
  return out;
}

/// The key in `path`, created (mode 0600) when the file does not exist.
Pkey load_or_create_key(const std::filesystem::path& path) {
  if (std::FILE* f = std::fopen(path.c_str(), "r")) {
    Pkey key(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr));
    std::fclose(f);
    if (!key) fail(path.string() + ": not a PEM private key");
    return key;
  }
  Pkey key(EVP_EC_gen("P-256"));
  if (!key) fail("cannot generate an EC P-256 key");
  const mode_t old = ::umask(077);
  std::FILE* f = std::fopen(path.c_str(), "w");
  ::umask(old);
  if (f == nullptr) fail("cannot create " + path.string());
  const bool ok = PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(f);
  if (!ok) fail("cannot write " + path.string());
  return key;
}

std::string coordinate(const EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) fail("cannot read the public key");
  std::string out(kP256Bytes, '\0');
  const int n = BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), kP256Bytes);
  BN_free(bn);
  if (n != static_cast<int>(kP256Bytes)) fail("cannot encode the public key");
  return out;
}

void write_jwks(const EVP_PKEY* key, const std::filesystem::path& path) {
  const json::object jwk{{"kty", "EC"},
                         {"crv", "P-256"},
                         {"use", "sig"},
                         {"alg", "ES256"},
                         {"kid", kKid},
                         {"x", base64url(coordinate(key, OSSL_PKEY_PARAM_EC_PUB_X))},
                         {"y", base64url(coordinate(key, OSSL_PKEY_PARAM_EC_PUB_Y))}};
  std::ofstream out(path, std::ios::trunc);
  out << json::serialize(json::object{{"keys", json::array{jwk}}}) << '\n';
  if (!out) fail("cannot write " + path.string());
}

/// ES256 over `input`: the DER signature OpenSSL makes, as JWS wants it (r || s, 32 bytes each).
std::string es256(EVP_PKEY* key, const std::string& input) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    fail("cannot sign");
  }
  std::string der(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    fail("cannot sign");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)), ECDSA_SIG_free);
  if (!sig) fail("cannot decode the signature");
  std::string raw(2 * kP256Bytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, kP256Bytes);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + kP256Bytes, kP256Bytes);
  return raw;
}

std::string token(EVP_PKEY* key, const std::string& issuer, const std::string& audience,
                  const std::string& citizen, std::int64_t ttl_s) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const json::object header{{"alg", "ES256"}, {"typ", "at+jwt"}, {"kid", kKid}};
  const json::object claims{{"iss", issuer},  {"aud", audience},
                            {"sub", citizen}, {"client_id", "citizen-app"},
                            {"iat", now},     {"exp", now + ttl_s}};
  const std::string input =
      base64url(json::serialize(header)) + "." + base64url(json::serialize(claims));
  return input + "." + base64url(es256(key, input));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lgsp-citizen-idp: the citizen identity provider, for the dev stack"};
  std::string dir = "run/citizen-idp";
  std::string citizen;
  std::string issuer = "https://citizen-id.dev.lgsp.local";
  std::string audience = "lgsp-access-log";
  std::int64_t ttl_s = 300;
  app.add_option("--dir", dir, "Where the signing key and jwks.json live")->capture_default_str();
  app.add_option("--citizen", citizen, "Print an access token for this citizen ID");
  app.add_option("--issuer", issuer, "The token's iss")->capture_default_str();
  app.add_option("--audience", audience, "The token's aud")->capture_default_str();
  app.add_option("--ttl", ttl_s, "Seconds the token is valid")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    std::filesystem::create_directories(dir);
    const Pkey key = load_or_create_key(std::filesystem::path(dir) / "signing-key.pem");
    write_jwks(key.get(), std::filesystem::path(dir) / "jwks.json");
    if (!citizen.empty()) std::cout << token(key.get(), issuer, audience, citizen, ttl_s) << '\n';
  } catch (const std::exception& e) {
    std::cerr << "lgsp-citizen-idp: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
