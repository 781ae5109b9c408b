// Citizen IDs, plates, social insurance numbers, health cards, dates and names: every parser
// and normaliser in domain/ on the same bytes, with the invariants their callers rely on.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "domain/citizen_id.hpp"
#include "domain/dates.hpp"
#include "domain/identifiers.hpp"
#include "domain/names.hpp"
#include "domain/provinces.hpp"
#include "registries/table.hpp"

namespace {

namespace d = lgsp::domain;

/// A broken invariant is a crash, so libFuzzer keeps the input.
void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

bool digits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return !s.empty();
}

bool upper(char c) { return c >= 'A' && c <= 'Z'; }

/// "29A-123.45", "29A-1234", "29B1-123.45", "51F1-1234".
bool canonical_plate(std::string_view p) {
  const auto dash = p.find('-');
  if (dash != 2 + 1 && dash != 2 + 2) return false;
  if (!digits(p.substr(0, 2)) || !upper(p[2])) return false;
  if (dash == 4 && !(upper(p[3]) || (p[3] >= '0' && p[3] <= '9'))) return false;
  const std::string_view number = p.substr(dash + 1);
  if (number.size() == 4) return digits(number);
  return number.size() == 6 && digits(number.substr(0, 3)) && number[3] == '.' &&
         digits(number.substr(4));
}

void citizen_id(std::string_view s) {
  const auto check_result = d::check_citizen_id(s);
  if (!check_result.info) {
    check(!check_result.error.empty(), "a refused citizen ID says why");
    // The message is shown to partners and must never repeat the ID (long digit runs only:
    // short ones such as "12" legitimately occur in the fixed messages).
    if (s.size() >= 5 && digits(s)) {
      check(check_result.error.find(s) == std::string::npos, "error repeats the citizen ID");
    }
    return;
  }
  const auto& info = *check_result.info;
  check(s.size() == 12 && digits(s), "a valid citizen ID is 12 digits");
  check(info.province_code == s.substr(0, 3), "province code is the first 3 digits");
  check(d::find_province(info.province_code) != nullptr, "province code is a province");
  check(info.birth_year >= 1900 && info.birth_year <= 2099, "birth year within 1900-2099");
  check((((s[3] - '0') % 2 == 0) ? d::Gender::kMale : d::Gender::kFemale) == info.gender,
        "gender is the parity of digit 4");
  check(d::parse_gender(d::to_string(info.gender)) == info.gender, "gender round trip");
  const unsigned serial =
      static_cast<unsigned>(std::strtoul(std::string(s.substr(6)).c_str(), nullptr, 10));
  check(d::make_citizen_id(info.province_code, info.gender, info.birth_year, serial) == s,
        "make_citizen_id(check_citizen_id(id)) == id");
}

void plate(std::string_view s) {
  const auto p = d::normalize_plate(s);
  if (!p) return;
  check(canonical_plate(*p), "normalize_plate returns the canonical form");
  const auto again = d::normalize_plate(*p);
  check(again && *again == *p, "a normalised plate re-normalises to itself");
}

void insurance(std::string_view s) {
  if (d::is_social_insurance_number(s)) check(s.size() == 10 && digits(s), "SIN is 10 digits");
  if (d::is_legacy_id_number(s)) check(s.size() == 9 && digits(s), "CMND is 9 digits");
  if (const auto card = d::normalize_health_card(s)) {
    check(card->size() == 15 && upper((*card)[0]) && upper((*card)[1]) && (*card)[2] >= '1' &&
              (*card)[2] <= '5',
          "health card: 2 letters and a benefit level 1-5");
    check(d::is_social_insurance_number(std::string_view(*card).substr(5)),
          "a health card ends with a social insurance number");
    const auto again = d::normalize_health_card(*card);
    check(again && *again == *card, "a normalised health card re-normalises to itself");
  }
}

void date(std::string_view s) {
  const auto parsed = d::parse_iso_date(s);
  if (!parsed) return;
  check(parsed->month >= 1 && parsed->month <= 12 && parsed->day >= 1 && parsed->day <= 31,
        "a parsed date has a real month and day");
  check(d::to_iso(*parsed) == s, "to_iso(parse_iso_date(s)) == s");
}

void name(std::string_view s) {
  const bool valid = d::is_valid_utf8(s);
  const auto n = d::normalize_name(s);
  // Only invalid UTF-8 is refused: every partner's name must be comparable.
  check(n.has_value() == valid, "normalize_name refuses exactly the invalid UTF-8");
  const auto folded = d::fold_diacritics(s);
  check(folded.has_value() == valid, "fold_diacritics refuses exactly the invalid UTF-8");
  if (!n) return;
  check(d::is_valid_utf8(*n), "a normalised name is valid UTF-8");
  check(n->empty() || (n->front() != ' ' && n->back() != ' '), "no outer white space");
  check(n->find("  ") == std::string::npos, "inner white space collapsed");
  // Matching compares normalised forms of both sides: normalising must be a projection.
  const auto n2 = d::normalize_name(*n);
  check(n2 && *n2 == *n, "normalize_name is idempotent");
  check(d::is_valid_utf8(*folded), "a folded name is valid UTF-8");
  const auto f2 = d::fold_diacritics(*folded);
  check(f2 && *f2 == *folded, "fold_diacritics is idempotent");
}

void catalog(std::string_view s) {
  if (const auto* p = d::find_province(s)) check(p->code == s, "find_province finds its code");
  namespace reg = lgsp::registries;
  if (const auto* r = reg::find_catalogue(s)) {
    check(r->name == s, "find_catalogue finds its name");
    for (auto op : r->operations) check(reg::has_operation(*r, op), "has_operation of its own");
    for (auto f : r->fields) check(reg::has_field(*r, f), "has_field of its own");
  }
  if (reg::find(s) != nullptr) check(reg::find_catalogue(s) != nullptr, "a module is catalogued");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  citizen_id(s);
  plate(s);
  insurance(s);
  date(s);
  name(s);
  catalog(s);
  return 0;
}
