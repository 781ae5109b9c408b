#pragma once

#include <span>
#include <string_view>

namespace lgsp::domain {

/// A province or centrally-run city, with the 3-digit code used as the first digits of a
/// 12-digit citizen ID (Circular 07/2016/TT-BCA list, 63 units).
struct Province {
  std::string_view code;
  std::string_view name;
};

/// All 63 provinces, ordered by code.
std::span<const Province> provinces();

/// The province with this 3-digit code, or nullptr.
const Province* find_province(std::string_view code);

}  // namespace lgsp::domain
