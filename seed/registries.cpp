#include "seed/registries.hpp"

#include <array>
#include <cstdio>
#include <string_view>

namespace lgsp::seed {
namespace {

struct Model {
  std::string_view type, brand, model, engine_prefix;
};
constexpr std::array<Model, 12> kBikes{{{"motorbike", "Honda", "Wave Alpha", "JA39E"},
                                        {"motorbike", "Honda", "Vision", "JF58E"},
                                        {"motorbike", "Honda", "Air Blade", "JF63E"},
                                        {"motorbike", "Honda", "SH 125i", "KF14E"},
                                        {"motorbike", "Yamaha", "Exciter", "G3D4E"},
                                        {"motorbike", "Yamaha", "Sirius", "5C64"},
                                        {"motorbike", "Yamaha", "Janus", "E3W2E"},
                                        {"motorbike", "Piaggio", "Vespa Sprint", "M82"},
                                        {"motorbike", "VinFast", "Feliz S", "VFZ"},
                                        {"motorbike", "VinFast", "Evo200", "VEV"},
                                        {"motorbike", "Honda", "Wave RSX", "JA39E"},
                                        {"motorbike", "Suzuki", "Raider", "CGA1"}}};
constexpr std::array<Model, 10> kCars{{{"car", "Toyota", "Vios", "2NR"},
                                       {"car", "Toyota", "Corolla Cross", "2ZR"},
                                       {"car", "Hyundai", "Accent", "G4LC"},
                                       {"car", "Hyundai", "Grand i10", "G4LA"},
                                       {"car", "Kia", "Seltos", "G4FL"},
                                       {"car", "Mazda", "CX-5", "PY"},
                                       {"car", "Ford", "Ranger", "YN2S"},
                                       {"car", "VinFast", "VF 5", "VFE"},
                                       {"car", "VinFast", "VF 8", "VFE"},
                                       {"car", "Honda", "City", "L15"}}};
constexpr std::array<std::string_view, 7> kColours{"Đen", "Trắng", "Đỏ",  "Xanh",
                                                   "Bạc", "Xám",   "Vàng"};
constexpr std::array<std::string_view, 8> kCarSeries{"A", "C", "D", "E", "F", "G", "H", "K"};
constexpr std::array<std::string_view, 8> kBikeSeries{"B1", "F1", "X1", "K1",
                                                      "H1", "P1", "L1", "T1"};

/// The plate code of a province of residence: the well-known ones, else a stable code.
std::string plate_code(const std::string& province, Rng& rng) {
  if (province == "Hà Nội") return std::to_string(29 + rng.below(5));        // 29-33
  if (province == "Hồ Chí Minh") return std::to_string(50 + rng.below(10));  // 50-59
  if (province == "Hải Phòng") return "15";
  if (province == "Đà Nẵng") return "43";
  if (province == "Cần Thơ") return "65";
  if (province == "Đồng Nai") return "60";
  if (province == "Bình Dương") return "61";
  std::uint32_t h = 0;
  for (unsigned char c : province) h = h * 31 + c;
  return std::to_string(11 + h % 88);
}

std::string digits(Rng& rng, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + rng.below(10)));
  return s;
}

std::string date(int y, Rng& rng) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", y, 1 + rng.below(12), 1 + rng.below(28));
  return buf;
}

}  // namespace

SyntheticHoldings::SyntheticHoldings(std::uint64_t seed) : rng_(seed ^ 0x5eedf00dcafe1234ULL) {}

std::optional<domain::InsuranceRow> SyntheticHoldings::insurance_for(
    const domain::CitizenRecord& c) {
  if (rng_.below(100) >= 93) return std::nullopt;
  const int birth_year = std::stoi(c.date_of_birth.substr(0, 4));
  const int age = 2026 - birth_year;
  domain::InsuranceRow r;
  char sin[16];
  // A bijection on [0, 10^10): unique numbers that do not look sequential.
  std::snprintf(
      sin, sizeof sin, "%010llu",
      static_cast<unsigned long long>((next_sin_++ * 104729ULL + 7919ULL) % 10000000000ULL));
  r.social_insurance_number = sin;
  std::string_view group = "GD";  // household
  int level = 4;
  if (age < 6) {
    group = "TE";
    level = 1;
  } else if (age < 19) {
    group = "HS";
  } else if (age >= 60) {
    group = "HT";
    level = 2;
  } else if (rng_.below(10) < 5) {
    group = "DN";  // employees
  } else if (rng_.below(10) < 2) {
    group = "HC";  // civil servants
  }
  const std::string province2 = c.citizen_id.substr(1, 2);
  r.health_insurance_card =
      std::string(group) + std::to_string(level) + province2 + r.social_insurance_number;
  r.citizen_id = c.citizen_id;
  const std::uint32_t s = rng_.below(100);
  r.status = s < 90 ? "active" : (s < 94 ? "suspended" : "ended");
  const int start_year = 2020 + static_cast<int>(rng_.below(6));
  r.coverage_start = std::to_string(start_year) + "-01-01";
  r.coverage_end = r.status == "ended" ? std::to_string(2023 + rng_.below(3)) + "-12-31"
                                       : std::to_string(2026 + rng_.below(2)) + "-12-31";
  r.hospital_province = c.province;
  r.hospital_facility_code = province2 + digits(rng_, 3);
  r.benefit_level = level;
  return r;
}

std::vector<domain::VehicleRow> SyntheticHoldings::vehicles_for(const domain::CitizenRecord& c) {
  std::vector<domain::VehicleRow> out;
  const int birth_year = std::stoi(c.date_of_birth.substr(0, 4));
  if (2026 - birth_year < 18) return out;
  const int bikes = rng_.below(100) < 66 ? 1 + static_cast<int>(rng_.below(100) < 20) : 0;
  const int cars = rng_.below(100) < 8 ? 1 : 0;
  for (int i = 0; i < bikes + cars; ++i) {
    const bool car = i >= bikes;
    const Model& m = car ? kCars[rng_.below(kCars.size())] : kBikes[rng_.below(kBikes.size())];
    const std::string series(car ? kCarSeries[rng_.below(kCarSeries.size())]
                                 : kBikeSeries[rng_.below(kBikeSeries.size())]);
    const std::string prefix = plate_code(c.province, rng_) + series;
    // Unique per prefix: a serial scrambled over 10^5 numbers.
    const std::uint32_t n = plate_serials_[prefix]++;
    char number[16];
    std::snprintf(number, sizeof number, "%05u", (n * 7919U + 1234U) % 100000U);
    domain::VehicleRow v;
    v.plate_number = prefix + "-" + std::string(number, 3) + "." + std::string(number + 3, 2);
    v.owner_citizen_id = c.citizen_id;
    v.vehicle_type = std::string(m.type);
    v.brand = std::string(m.brand);
    v.model = std::string(m.model);
    v.colour = std::string(kColours[rng_.below(kColours.size())]);
    v.engine_number = std::string(m.engine_prefix) + digits(rng_, 7);
    v.chassis_number =
        "RL" + std::string(1, static_cast<char>('A' + rng_.below(26))) + digits(rng_, 14);
    v.registration_date = date(std::max(2005, birth_year + 18) +
                                   static_cast<int>(rng_.below(static_cast<std::uint32_t>(
                                       std::max(1, 2026 - std::max(2005, birth_year + 18))))),
                               rng_);
    const std::uint32_t s = rng_.below(100);
    v.status = s < 96 ? "registered" : (s < 99 ? "deregistered" : "reported_stolen");
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace lgsp::seed
