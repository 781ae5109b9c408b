#include "domain/identifiers.hpp"

#include <algorithm>
#include <cctype>

namespace lgsp::domain {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

}  // namespace

std::optional<std::string> normalize_plate(std::string_view text) {
  std::string s;
  std::size_t prefix_len = 0;  // letters/digits before the first '-' or ' ', if any
  for (char c : text) {
    if (c == ' ' || c == '-' || c == '.') {
      if (prefix_len == 0 && c != '.' && !s.empty()) prefix_len = s.size();
      continue;
    }
    s.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  // A separator says where the series ends; without one, 9 characters means a two-character
  // series (motorbikes: 29B1-123.45), otherwise one letter (cars: 29A-123.45, 29A-1234).
  const std::size_t series_len = prefix_len > 2 ? prefix_len - 2 : (s.size() == 9 ? 2 : 1);
  if (s.size() < 7 || series_len > 2 || !is_digit(s[0]) || !is_digit(s[1]) || !is_upper(s[2])) {
    return std::nullopt;
  }
  if (series_len == 2 && !(is_upper(s[3]) || is_digit(s[3]))) return std::nullopt;
  const std::string_view number = std::string_view(s).substr(2 + series_len);
  if ((number.size() != 4 && number.size() != 5) || !all_digits(number)) return std::nullopt;
  std::string out = s.substr(0, 2 + series_len) + "-";
  if (number.size() == 5) {
    out += std::string(number.substr(0, 3)) + "." + std::string(number.substr(3));
  } else {
    out += number;
  }
  return out;
}

bool is_social_insurance_number(std::string_view s) { return s.size() == 10 && all_digits(s); }

std::optional<std::string> normalize_health_card(std::string_view s) {
  if (s.size() != 15) return std::nullopt;
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!is_upper(out[0]) || !is_upper(out[1]) || out[2] < '1' || out[2] > '5' ||
      !all_digits(std::string_view(out).substr(3))) {
    return std::nullopt;
  }
  return out;
}

bool is_legacy_id_number(std::string_view s) { return s.size() == 9 && all_digits(s); }

}  // namespace lgsp::domain
