#include "gateway/jose.hpp"

#include <openssl/err.h>

#include <cstdint>

namespace lgsp::gateway::jose {
namespace {

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

bool is_base64url_char(char c) { return base64url_value(c) >= 0; }

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
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

}  // namespace lgsp::gateway::jose
