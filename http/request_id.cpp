#include "http/request_id.hpp"

#include <random>

namespace lgsp::http {

std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (std::size_t half = 0; half < 2; ++half) {
    std::uint64_t v = rng();
    for (std::size_t i = 0; i < 16; ++i, v >>= 4) out[half * 16 + i] = kHex[v & 0xf];
  }
  return out;
}

}  // namespace lgsp::http
