#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lgsp::domain {

enum class Gender { kMale, kFemale };

std::string_view to_string(Gender g);
/// "male" / "female"; anything else is nullopt.
std::optional<Gender> parse_gender(std::string_view s);

/// What the digits of a 12-digit citizen ID (Căn cước công dân) say about its holder:
/// digits 1-3 province of birth, digit 4 century and gender, digits 5-6 the year within the
/// century, digits 7-12 a serial.
struct CitizenIdInfo {
  std::string_view province_code;
  Gender gender;
  int birth_year;
};

/// Decodes a citizen ID, or returns why it is not one. The message is safe to show the
/// caller: it never repeats the ID itself.
struct CitizenIdCheck {
  std::optional<CitizenIdInfo> info;
  std::string error;
};
CitizenIdCheck check_citizen_id(std::string_view id);

/// Builds the ID for these attributes; serial is taken modulo 10^6.
std::string make_citizen_id(std::string_view province_code, Gender gender, int birth_year,
                            unsigned serial);

}  // namespace lgsp::domain
