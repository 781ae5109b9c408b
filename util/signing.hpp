#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace lgsp::util {

/// Writes a new Ed25519 key pair as PEM: the private key (PKCS#8, mode 0600) and the public
/// key (SubjectPublicKeyInfo). Throws if either file exists or cannot be written.
void write_ed25519_key_pair(const std::string& private_path, const std::string& public_path);

/// Signs with an Ed25519 private key (PEM text). Immutable; thread-safe.
class Ed25519Signer {
 public:
  /// Throws std::invalid_argument when `pem` is not an Ed25519 private key.
  explicit Ed25519Signer(std::string_view pem);
  ~Ed25519Signer();
  Ed25519Signer(const Ed25519Signer&) = delete;
  Ed25519Signer& operator=(const Ed25519Signer&) = delete;

  /// The 64-byte signature of `message`, in lower-case hex.
  std::string sign(std::string_view message) const;
  /// First 16 hex digits of the SHA-256 of the raw public key: names the key in what it
  /// signs, so a verifier holding another key says so.
  const std::string& key_id() const { return key_id_; }
  /// The public key as PEM (for `lgsp keys` and tests).
  std::string public_pem() const;

 private:
  struct Key;
  std::unique_ptr<Key> key_;
  std::string key_id_;
};

/// Checks Ed25519 signatures against a public key (PEM text). Immutable; thread-safe.
class Ed25519Verifier {
 public:
  /// Throws std::invalid_argument when `pem` is not an Ed25519 public key.
  explicit Ed25519Verifier(std::string_view pem);
  ~Ed25519Verifier();
  Ed25519Verifier(const Ed25519Verifier&) = delete;
  Ed25519Verifier& operator=(const Ed25519Verifier&) = delete;

  /// Whether `signature_hex` is a valid signature of `message` under this key.
  bool verify(std::string_view message, std::string_view signature_hex) const;
  const std::string& key_id() const { return key_id_; }

 private:
  struct Key;
  std::unique_ptr<Key> key_;
  std::string key_id_;
};

}  // namespace lgsp::util
