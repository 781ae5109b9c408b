#include "http/request_id.hpp"

#include <array>

#include "util/random.hpp"

namespace lgsp::http {

std::string new_request_id() {
  // Request ids are audit event ids: unpredictable and unique, so from the CSPRNG (OpenSSL's
  // DRBG, seeded by the kernel and reseeded on its own), never from a seeded PRNG.
  std::array<unsigned char, 16> bytes{};
  util::random_fill(bytes);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return out;
}

}  // namespace lgsp::http
