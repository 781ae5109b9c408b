#include "seed/synthetic.hpp"

#include <array>
#include <cstdio>
#include <string_view>
#include <vector>

#include "domain/citizen_id.hpp"
#include "domain/dates.hpp"
#include "domain/provinces.hpp"

namespace lgsp::seed {
namespace {

struct Weighted {
  std::string_view value;
  std::uint32_t weight;
};

/// Picks by cumulative weight.
class Table {
 public:
  Table(std::initializer_list<Weighted> items) : items_(items) {
    for (const auto& i : items_) cumulative_.push_back(total_ += i.weight);
  }
  std::string_view pick(Rng& rng) const {
    const std::uint32_t r = rng.below(total_);
    std::size_t lo = 0, hi = cumulative_.size() - 1;
    while (lo < hi) {
      const std::size_t mid = (lo + hi) / 2;
      if (cumulative_[mid] > r)
        hi = mid;
      else
        lo = mid + 1;
    }
    return items_[lo].value;
  }

 private:
  std::vector<Weighted> items_;
  std::vector<std::uint32_t> cumulative_;
  std::uint32_t total_ = 0;
};

// Shares per 1000 of Vietnamese family names (Nguyễn alone is ~38%).
const Table kFamily{{"Nguyễn", 384}, {"Trần", 121}, {"Lê", 95},    {"Phạm", 70}, {"Hoàng", 41},
                    {"Huỳnh", 20},   {"Phan", 45},  {"Vũ", 39},    {"Võ", 25},   {"Đặng", 21},
                    {"Bùi", 20},     {"Đỗ", 14},    {"Hồ", 13},    {"Ngô", 13},  {"Dương", 10},
                    {"Lý", 5},       {"Đinh", 8},   {"Trương", 7}, {"Lâm", 4},   {"Mai", 4},
                    {"Đào", 4},      {"Cao", 3},    {"Hà", 3},     {"Tô", 2},    {"Lương", 3},
                    {"Tạ", 2},       {"Châu", 2},   {"Quách", 1},  {"Thái", 2},  {"Kiều", 1}};
const Table kMiddleMale{{"Văn", 400},  {"Đức", 80},   {"Minh", 100}, {"Quang", 60}, {"Hữu", 70},
                        {"Thanh", 50}, {"Công", 50},  {"Ngọc", 30},  {"Xuân", 30},  {"Đình", 50},
                        {"Tuấn", 25},  {"Hoàng", 30}, {"Gia", 20},   {"Trọng", 25}, {"Thành", 30}};
const Table kMiddleFemale{{"Thị", 550}, {"Ngọc", 80},  {"Thu", 50},  {"Thanh", 60},  {"Kim", 40},
                          {"Minh", 40}, {"Hồng", 40},  {"Mỹ", 30},   {"Phương", 30}, {"Bảo", 20},
                          {"Diệu", 15}, {"Khánh", 20}, {"Hoài", 15}, {"Thùy", 25},   {"Quỳnh", 20}};
const Table kGivenMale{{"Anh", 60},   {"Minh", 55},  {"Hùng", 45},  {"Dũng", 42}, {"Tuấn", 40},
                       {"Hải", 36},   {"Nam", 35},   {"Long", 33},  {"Đức", 31},  {"Thắng", 29},
                       {"Cường", 28}, {"Sơn", 27},   {"Huy", 27},   {"Quân", 25}, {"Trung", 24},
                       {"Phong", 22}, {"Thành", 22}, {"Bình", 21},  {"Khoa", 19}, {"Việt", 19},
                       {"Hiếu", 18},  {"Tùng", 17},  {"Vinh", 16},  {"Phúc", 16}, {"Đạt", 16},
                       {"An", 15},    {"Bảo", 15},   {"Khang", 14}, {"Lâm", 13},  {"Nghĩa", 13},
                       {"Tài", 12},   {"Toàn", 12},  {"Thịnh", 11}, {"Hưng", 11}, {"Lộc", 10},
                       {"Tâm", 10},   {"Duy", 10},   {"Kiên", 9},   {"Nhân", 9},  {"Tiến", 9}};
const Table kGivenFemale{{"Linh", 55},  {"Anh", 52},    {"Hương", 45}, {"Trang", 44}, {"Lan", 38},
                         {"Hà", 36},    {"Thảo", 35},   {"Ngọc", 33},  {"Huyền", 31}, {"Mai", 30},
                         {"Hằng", 29},  {"Phương", 28}, {"Hoa", 27},   {"Nhung", 25}, {"Thủy", 25},
                         {"Yến", 24},   {"Dung", 22},   {"Vân", 21},   {"Giang", 20}, {"Hạnh", 20},
                         {"Quỳnh", 19}, {"Nga", 18},    {"Hiền", 18},  {"Loan", 16},  {"Trâm", 15},
                         {"Uyên", 15},  {"My", 14},     {"Vy", 14},    {"Chi", 13},   {"Ngân", 13},
                         {"Oanh", 11},  {"Tuyết", 11},  {"Nhi", 11},   {"Thư", 10},   {"Châu", 9},
                         {"Xuân", 9},   {"Diệp", 7},    {"Như", 8},    {"Ly", 8},     {"Hân", 7}};
// Place-name stems for synthetic districts and communes (real provinces, invented units).
constexpr std::array<std::string_view, 40> kStems{
    "An Phú",    "Tân Bình", "Hòa Bình",  "Phú Lộc",    "Thanh Xuân", "Đông Hà",   "Tân Lập",
    "Vĩnh Hưng", "Bình An",  "Long Hải",  "Phước Hòa",  "Thạch Hà",   "Yên Định",  "Quảng Phú",
    "Hưng Long", "Tam Kỳ",   "Đức Thắng", "Minh Khai",  "Cẩm Phả",    "Hòa Vang",  "Xuân Lộc",
    "Tiên Du",   "Gia Lâm",  "Mỹ Tho",    "Châu Thành", "Trung Hòa",  "Đồng Xoài", "Kim Sơn",
    "Nam Sách",  "Thuận An", "Bình Minh", "Tân Phong",  "Hải Châu",   "Ngọc Lặc",  "Phú Hòa",
    "Lạc Long",  "Hiệp Hòa", "Tây Sơn",   "Sơn Trà",    "Vạn Ninh"};
constexpr std::array<std::string_view, 4> kDistrictKinds{"Huyện", "Quận", "Thị xã", "Thành phố"};
constexpr std::array<std::string_view, 3> kCommuneKinds{"Xã", "Phường", "Thị trấn"};

/// Population weights per province (large cities and provinces higher).
std::uint32_t province_weight(std::string_view code) {
  static const std::array<std::pair<std::string_view, std::uint32_t>, 16> kBig{{{"079", 94},
                                                                                {"001", 85},
                                                                                {"038", 37},
                                                                                {"040", 34},
                                                                                {"075", 32},
                                                                                {"074", 26},
                                                                                {"031", 20},
                                                                                {"089", 19},
                                                                                {"066", 19},
                                                                                {"024", 19},
                                                                                {"030", 19},
                                                                                {"064", 15},
                                                                                {"036", 18},
                                                                                {"034", 19},
                                                                                {"052", 15},
                                                                                {"091", 17}}};
  for (const auto& [c, w] : kBig) {
    if (c == code) return w;
  }
  return 10;
}

const std::vector<std::uint32_t>& province_cumulative() {
  static const std::vector<std::uint32_t> cum = [] {
    std::vector<std::uint32_t> v;
    std::uint32_t t = 0;
    for (const auto& p : domain::provinces()) v.push_back(t += province_weight(p.code));
    return v;
  }();
  return cum;
}

const domain::Province& pick_province(Rng& rng) {
  const auto& cum = province_cumulative();
  const std::uint32_t r = rng.below(cum.back());
  std::size_t i = 0;
  while (cum[i] <= r) ++i;
  return domain::provinces()[i];
}

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

domain::Date random_date_in_year(Rng& rng, int year) {
  const int month = 1 + static_cast<int>(rng.below(12));
  const int day =
      1 + static_cast<int>(rng.below(static_cast<std::uint32_t>(days_in_month(year, month))));
  return {year, month, day};
}

}  // namespace

SyntheticPopulation::SyntheticPopulation(std::uint64_t seed) : rng_(seed) {}

domain::CitizenRecord SyntheticPopulation::next() {
  domain::CitizenRecord r;
  const bool male = rng_.below(1000) < 495;
  // Ages 14..90 in 2026, fewer people in the older bands.
  int age = 14 + static_cast<int>(rng_.below(77));
  if (age > 60 && rng_.below(2) == 0) age = 14 + static_cast<int>(rng_.below(47));
  const int birth_year = 2026 - age;
  const domain::Date dob = random_date_in_year(rng_, birth_year);
  const domain::Province& birth_province = pick_province(rng_);
  const domain::Gender gender = male ? domain::Gender::kMale : domain::Gender::kFemale;

  const std::uint32_t combo =
      static_cast<std::uint32_t>(std::stoi(std::string(birth_province.code))) * 100000U +
      static_cast<std::uint32_t>(birth_year) * 2U + (male ? 0U : 1U);
  const std::uint32_t n = serials_[combo]++;
  // A bijection on [0, 10^6): serials look scattered but never repeat within a combo.
  const unsigned serial = static_cast<unsigned>(
      (static_cast<std::uint64_t>(n) * 7919ULL + combo % 997ULL) % 1000000ULL);
  r.citizen_id = domain::make_citizen_id(birth_province.code, gender, birth_year, serial);

  r.full_name = std::string(kFamily.pick(rng_)) + " " +
                std::string((male ? kMiddleMale : kMiddleFemale).pick(rng_)) + " " +
                std::string((male ? kGivenMale : kGivenFemale).pick(rng_));
  r.date_of_birth = domain::to_iso(dob);
  r.gender = std::string(domain::to_string(gender));
  r.place_of_origin =
      std::string(rng_.below(10) < 7 ? birth_province.name : pick_province(rng_).name);

  // Most people live in their province of birth.
  const domain::Province& home = rng_.below(10) < 8 ? birth_province : pick_province(rng_);
  r.province = std::string(home.name);
  const std::uint32_t district = rng_.below(12);
  r.district =
      std::string(kDistrictKinds[district % 7 == 0 ? 1 : (district % 11 == 0 ? 2 : 0)]) + " " +
      std::string(
          kStems[(district * 7 + static_cast<std::uint32_t>(home.code[2])) % kStems.size()]);
  const std::uint32_t commune = rng_.below(20);
  r.commune = std::string(kCommuneKinds[commune % 3]) + " " +
              std::string(kStems[(commune * 13 + district) % kStems.size()]);

  // 12-digit ID cards exist since 2016; issued at 14 at the earliest.
  const int issue_year =
      std::max(2016, birth_year + 14) + static_cast<int>(rng_.below(static_cast<std::uint32_t>(
                                            std::max(1, 2026 - std::max(2016, birth_year + 14)))));
  r.id_card_issue_date = domain::to_iso(random_date_in_year(rng_, issue_year));
  // Most people born before 2000 held the old 9-digit identity card (CMND) first.
  if (birth_year < 2000 && rng_.below(10) < 8) {
    char legacy[16];
    std::snprintf(
        legacy, sizeof legacy, "%09llu",
        static_cast<unsigned long long>((next_legacy_++ * 7919ULL + 100000000ULL) % 1000000000ULL));
    r.legacy_id_number = legacy;
  }
  return r;
}

}  // namespace lgsp::seed
