#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace lgsp::util {

using Sha256Digest = std::array<unsigned char, 32>;

/// SHA-256 of the bytes. Thread-safe. OpenSSL 3 looks an algorithm up by name on every
/// one-shot SHA256() call (about 0.35 µs and a lock, per call, here); this uses one
/// implementation fetched for the whole process.
Sha256Digest sha256(std::string_view data);

/// Lower-case hex SHA-256 of the bytes: how API keys are stored and subjects are keyed.
std::string sha256_hex(std::string_view data);

/// Lower-case hex of `n` bytes (digests, fingerprints, random secrets).
std::string to_hex(const unsigned char* data, std::size_t n);

/// HMAC-SHA256 under one key, keyed once: each call copies a context that already holds the
/// key instead of fetching the algorithm and hashing the key again (OpenSSL 3's one-shot
/// HMAC() costs about 2.5 times as much). Immutable after construction; thread-safe.
class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  Sha256Digest digest(std::string_view data) const;

 private:
  struct Keyed;
  std::unique_ptr<Keyed> keyed_;
};

}  // namespace lgsp::util
