#include "util/signing.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <array>
#include <stdexcept>

#include "util/files.hpp"
#include "util/hashing.hpp"

namespace lgsp::util {

namespace {

using PKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

constexpr std::size_t kSignatureBytes = 64;

PKey read_pem(std::string_view pem, bool is_private) {
  const Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) throw std::runtime_error("OpenSSL: cannot read a PEM buffer");
  PKey key(is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                      : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr),
           &EVP_PKEY_free);
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_ED25519) {
    throw std::invalid_argument(is_private ? "not an Ed25519 private key in PEM"
                                           : "not an Ed25519 public key in PEM");
  }
  return key;
}

std::string key_id_of(EVP_PKEY* key) {
  std::array<unsigned char, 32> raw{};
  std::size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, raw.data(), &len) != 1)
    throw std::runtime_error("OpenSSL: no raw Ed25519 public key");
  const auto digest = sha256(std::string_view(reinterpret_cast<const char*>(raw.data()), len));
  return to_hex(digest.data(), 8);
}

std::string pem_of(EVP_PKEY* key, bool is_private) {
  const Bio bio(BIO_new(BIO_s_mem()), &BIO_free);
  const int ok =
      is_private ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
                 : PEM_write_bio_PUBKEY(bio.get(), key);
  if (!bio || ok != 1) throw std::runtime_error("OpenSSL: cannot write a PEM key");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return {data, static_cast<std::size_t>(n)};
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

void write_ed25519_key_pair(const std::string& private_path, const std::string& public_path) {
  const PKey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), &EVP_PKEY_free);
  if (!key) throw std::runtime_error("OpenSSL: cannot generate an Ed25519 key");
  write_new_file(private_path, pem_of(key.get(), true), 0600);
  write_new_file(public_path, pem_of(key.get(), false), 0644);
}

struct Ed25519Signer::Key {
  PKey pkey{nullptr, &EVP_PKEY_free};
};

Ed25519Signer::Ed25519Signer(std::string_view pem) : key_(std::make_unique<Key>()) {
  key_->pkey = read_pem(pem, true);
  key_id_ = key_id_of(key_->pkey.get());
}

Ed25519Signer::~Ed25519Signer() = default;

std::string Ed25519Signer::sign(std::string_view message) const {
  const MdCtx ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::array<unsigned char, kSignatureBytes> sig{};
  std::size_t len = sig.size();
  if (!ctx ||
      EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, key_->pkey.get(),
                            nullptr) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    throw std::runtime_error("OpenSSL: Ed25519 signing failed");
  }
  return to_hex(sig.data(), len);
}

std::string Ed25519Signer::public_pem() const { return pem_of(key_->pkey.get(), false); }

struct Ed25519Verifier::Key {
  PKey pkey{nullptr, &EVP_PKEY_free};
};

Ed25519Verifier::Ed25519Verifier(std::string_view pem) : key_(std::make_unique<Key>()) {
  key_->pkey = read_pem(pem, false);
  key_id_ = key_id_of(key_->pkey.get());
}

Ed25519Verifier::~Ed25519Verifier() = default;

bool Ed25519Verifier::verify(std::string_view message, std::string_view signature_hex) const {
  if (signature_hex.size() != 2 * kSignatureBytes) return false;
  std::array<unsigned char, kSignatureBytes> sig{};
  for (std::size_t i = 0; i < sig.size(); ++i) {
    const int hi = hex_digit(signature_hex[2 * i]);
    const int lo = hex_digit(signature_hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    sig.at(i) = static_cast<unsigned char>(hi * 16 + lo);
  }
  const MdCtx ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  return ctx &&
         EVP_DigestVerifyInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, key_->pkey.get(),
                                 nullptr) == 1 &&
         EVP_DigestVerify(ctx.get(), sig.data(), sig.size(),
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

}  // namespace lgsp::util
