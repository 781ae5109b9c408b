#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lgsp::domain {

/// A Vietnamese plate: 2-digit province code, a series (a letter, optionally followed by a
/// letter or digit), then 4 or 5 digits. Accepts "29A-123.45", "29A12345", "29a 123 45",
/// "51F1-1234"; returns the canonical "29A-123.45" / "51F1-1234", or nullopt.
std::optional<std::string> normalize_plate(std::string_view text);

/// Social insurance number (mã số BHXH): exactly 10 digits.
bool is_social_insurance_number(std::string_view s);

/// Health insurance card code: 2 letters (beneficiary group), 1 digit (benefit level 1-5),
/// 2 digits (province), then the 10-digit social insurance number. Upper-cases; nullopt
/// when malformed.
std::optional<std::string> normalize_health_card(std::string_view s);

/// The old 9-digit identity card number (CMND).
bool is_legacy_id_number(std::string_view s);

}  // namespace lgsp::domain
