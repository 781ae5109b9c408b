#include "registries/civil_status/synthetic.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "domain/dates.hpp"

namespace lgsp::registries::civil_status {
namespace {

namespace chr = std::chrono;

/// Days since 1970-01-01 of an ISO date the population seeder wrote.
std::int64_t day_of(const std::string& iso) {
  const auto d = domain::parse_iso_date(iso).value_or(domain::Date{1970, 1, 1});
  const chr::year_month_day ymd{chr::year{d.year}, chr::month{static_cast<unsigned>(d.month)},
                                chr::day{static_cast<unsigned>(d.day)}};
  return chr::sys_days{ymd}.time_since_epoch().count();
}

std::string iso_of(std::int64_t day) {
  const chr::year_month_day ymd{chr::sys_days{chr::days{day}}};
  return domain::to_iso({static_cast<int>(ymd.year()), static_cast<int>(unsigned(ymd.month())),
                         static_cast<int>(unsigned(ymd.day()))});
}

int year_of(std::int64_t day) {
  return static_cast<int>(chr::year_month_day{chr::sys_days{chr::days{day}}}.year());
}

/// The synthetic world ends where the population seeder's does.
const std::int64_t kLastDay = day_of("2026-11-30");

std::int64_t years_after(std::int64_t day, int years) {
  chr::year_month_day ymd{chr::sys_days{chr::days{day}}};
  ymd += chr::years{years};
  if (!ymd.ok()) ymd = ymd.year() / ymd.month() / chr::last;  // born on 29 February
  return chr::sys_days{ymd}.time_since_epoch().count();
}

std::uint32_t span(std::int64_t from, std::int64_t to) {
  return static_cast<std::uint32_t>(std::max<std::int64_t>(1, to - from + 1));
}

std::string registrar(const domain::CitizenRecord& c) {
  return "UBND " + c.commune + ", " + c.district + ", " + c.province;
}

/// Percent chance that a citizen is recorded as deceased, by age in 2026.
std::uint32_t death_rate(int age) {
  if (age >= 80) return 15;
  if (age >= 65) return 6;
  return 0;  // below 65: one in 250, drawn per mille below
}

}  // namespace

SyntheticCivilStatus::SyntheticCivilStatus(std::uint64_t seed) : rng_(seed ^ 0x43495649ULL) {}

std::string SyntheticCivilStatus::number(const char* prefix, int year) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s.%04d.%07llu", prefix, year,
                static_cast<unsigned long long>(++next_number_ % 10000000ULL));
  return buf;
}

std::vector<CivilEvent> SyntheticCivilStatus::events_for(const domain::CitizenRecord& c) {
  std::vector<CivilEvent> out;
  const std::int64_t born = day_of(c.date_of_birth);
  const std::int64_t registered = born + 1 + rng_.below(60);
  out.push_back({number("KS", year_of(registered)), "birth", c.citizen_id, "", c.date_of_birth,
                 registrar(c), iso_of(registered), "registered"});

  const int age = 2026 - year_of(born);
  const bool dies = age >= 65 ? rng_.below(100) < death_rate(age) : rng_.below(1000) < 4;
  std::int64_t last_day = kLastDay;
  if (dies) {
    // After the ID card the population registry shows was issued.
    const std::int64_t from = std::max(born + 365, day_of(c.id_card_issue_date) + 1);
    if (from < kLastDay) {
      last_day = from + rng_.below(span(from, kLastDay) - 1);
      const std::int64_t reg = std::min(kLastDay, last_day + 1 + rng_.below(15));
      out.push_back({number("KT", year_of(reg)), "death", c.citizen_id, "", iso_of(last_day),
                     registrar(c), iso_of(reg), "registered"});
    }
  }
  if (auto me = single_for(c, last_day)) {
    const bool man = c.gender == "male";
    auto& others = man ? waiting_women_ : waiting_men_;
    const auto partner = std::find_if(others.rbegin(), others.rend(), [&](const Single& o) {
      return std::abs(o.birth_year - me->birth_year) <= 7 &&
             std::max(o.adult_day, me->adult_day) < std::min(o.last_day, me->last_day);
    });
    if (partner != others.rend()) {
      marry(*me, *partner, out);
      others.erase(std::next(partner).base());
    } else {
      auto& mine = man ? waiting_men_ : waiting_women_;
      mine.push_back(std::move(*me));
      if (mine.size() > 256) mine.pop_front();
    }
  }
  return out;
}

std::optional<SyntheticCivilStatus::Single> SyntheticCivilStatus::single_for(
    const domain::CitizenRecord& c, std::int64_t last_day) {
  // About seven in ten adults marry.
  const std::int64_t adult = years_after(day_of(c.date_of_birth), c.gender == "male" ? 20 : 18);
  if (adult >= last_day || rng_.below(100) >= 70) return std::nullopt;
  return Single{c.citizen_id, year_of(day_of(c.date_of_birth)), adult, last_day, registrar(c)};
}

void SyntheticCivilStatus::marry(const Single& a, const Single& b, std::vector<CivilEvent>& out) {
  const std::int64_t from = std::max(a.adult_day, b.adult_day);
  // Most within twelve years of coming of age, never after either spouse died.
  const std::int64_t to = std::min({a.last_day, b.last_day, years_after(from, 12)});
  const std::int64_t day = from + rng_.below(span(from, to) - 1);
  const std::int64_t reg = std::min(kLastDay, day);
  const std::string no = number("KH", year_of(reg));
  const std::string status = rng_.below(11) == 0 ? "dissolved" : "registered";
  out.push_back(
      {no, "marriage", a.citizen_id, b.citizen_id, iso_of(day), a.place, iso_of(reg), status});
  out.push_back(
      {no, "marriage", b.citizen_id, a.citizen_id, iso_of(day), a.place, iso_of(reg), status});
}

}  // namespace lgsp::registries::civil_status
