#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

/// Small JOSE (RFC 7515/7517) helpers shared by the JWKS loader and the JWT verifier.
namespace lgsp::gateway::jose {

/// ES256 coordinates and signature halves are 32 bytes each (P-256).
inline constexpr std::size_t kEs256CoordinateBytes = 32;

const unsigned char* bytes(std::string_view s);

bool is_base64url_char(char c);

/// Unpadded base64url (RFC 7515 §2), strict: nullopt on a bad character, padding, or unused
/// trailing bits that are not zero.
std::optional<std::string> base64url_decode(std::string_view in);

/// The reason on this thread's OpenSSL error queue, which it then clears.
std::string openssl_reason();

}  // namespace lgsp::gateway::jose
