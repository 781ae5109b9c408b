#include "util/hashing.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <stdexcept>

namespace lgsp::util {

namespace {

/// Fetched once, kept for the life of the process (never freed: other statics may hash
/// during exit).
const EVP_MD* sha256_md() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  if (md == nullptr) throw std::runtime_error("OpenSSL: SHA-256 is not available");
  return md;
}

}  // namespace

Sha256Digest sha256(std::string_view data) {
  Sha256Digest out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, sha256_md(), nullptr) != 1 ||
      len != out.size()) {
    throw std::runtime_error("OpenSSL: SHA-256 failed");
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  const auto digest = sha256(data);
  return to_hex(digest.data(), digest.size());
}

std::string to_hex(const unsigned char* data, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 0xf];
  }
  return out;
}

struct HmacSha256::Keyed {
  std::unique_ptr<EVP_MAC, decltype(&EVP_MAC_free)> mac{nullptr, &EVP_MAC_free};
  std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx{nullptr, &EVP_MAC_CTX_free};
};

HmacSha256::HmacSha256(std::string_view key) : keyed_(std::make_unique<Keyed>()) {
  keyed_->mac.reset(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (keyed_->mac) keyed_->ctx.reset(EVP_MAC_CTX_new(keyed_->mac.get()));
  char digest_name[] = "SHA2-256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end()};
  if (!keyed_->ctx ||
      EVP_MAC_init(keyed_->ctx.get(), reinterpret_cast<const unsigned char*>(key.data()),
                   key.size(), params) != 1) {
    throw std::runtime_error("OpenSSL: cannot key HMAC-SHA256");
  }
}

HmacSha256::~HmacSha256() = default;

Sha256Digest HmacSha256::digest(std::string_view data) const {
  const std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(
      EVP_MAC_CTX_dup(keyed_->ctx.get()), &EVP_MAC_CTX_free);
  Sha256Digest out{};
  std::size_t len = 0;
  if (!ctx ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size()) !=
          1 ||
      EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1 || len != out.size()) {
    throw std::runtime_error("OpenSSL: HMAC-SHA256 failed");
  }
  return out;
}

}  // namespace lgsp::util
