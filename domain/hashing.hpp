#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lgsp::domain {

/// Lower-case hex SHA-256 of the bytes: how API keys are stored and subjects are keyed.
std::string sha256_hex(std::string_view data);

/// Lower-case hex of `n` bytes (digests, fingerprints, random secrets).
std::string to_hex(const unsigned char* data, std::size_t n);

}  // namespace lgsp::domain
