#include "domain/citizen_id.hpp"

#include <algorithm>
#include <cstdio>

#include "domain/provinces.hpp"

namespace lgsp::domain {

std::string_view to_string(Gender g) { return g == Gender::kMale ? "male" : "female"; }

std::optional<Gender> parse_gender(std::string_view s) {
  if (s == "male") return Gender::kMale;
  if (s == "female") return Gender::kFemale;
  return std::nullopt;
}

CitizenIdCheck check_citizen_id(std::string_view id) {
  if (id.size() != 12) return {std::nullopt, "must be exactly 12 digits"};
  if (!std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return {std::nullopt, "must contain digits only"};
  }
  const Province* province = find_province(id.substr(0, 3));
  if (province == nullptr) return {std::nullopt, "first 3 digits are not a province code"};
  const int century_gender = id[3] - '0';
  // 0/1: 20th century, 2/3: 21st, 4/5: 22nd, ...; even digits male, odd female.
  const int century_base = 1900 + (century_gender / 2) * 100;
  const int birth_year = century_base + (id[4] - '0') * 10 + (id[5] - '0');
  if (birth_year > 2099) return {std::nullopt, "century digit gives a birth year after 2099"};
  return {CitizenIdInfo{province->code, century_gender % 2 == 0 ? Gender::kMale : Gender::kFemale,
                        birth_year},
          {}};
}

std::string make_citizen_id(std::string_view province_code, Gender gender, int birth_year,
                            unsigned serial) {
  const int century_gender = ((birth_year - 1900) / 100) * 2 + (gender == Gender::kFemale ? 1 : 0);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3s%d%02d%06u", province_code.data(), century_gender % 10,
                birth_year % 100, serial % 1000000U);
  return buf;
}

}  // namespace lgsp::domain
