#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lgsp::domain {

/// A calendar date (proleptic Gregorian), as registries store dates of birth and issue.
struct Date {
  int year = 0;
  int month = 0;
  int day = 0;
  friend bool operator==(const Date&, const Date&) = default;
};

/// Parses ISO 8601 calendar date in extended form, exactly "YYYY-MM-DD", and checks that the
/// day exists (2023-02-29 is refused). Any other form is nullopt.
std::optional<Date> parse_iso_date(std::string_view s);

/// "YYYY-MM-DD".
std::string to_iso(const Date& d);

}  // namespace lgsp::domain
