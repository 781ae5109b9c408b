#pragma once

#include <string>
#include <string_view>

namespace lgsp::domain {

/// Lower-case hex SHA-256 of the bytes: how API keys are stored and subjects are keyed.
std::string sha256_hex(std::string_view data);

}  // namespace lgsp::domain
