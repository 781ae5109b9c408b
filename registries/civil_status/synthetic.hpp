#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "domain/citizen.hpp"
#include "registries/civil_status/store.hpp"
#include "seed/synthetic.hpp"

namespace lgsp::registries::civil_status {

/// Civil-status registrations for the synthetic citizens, consistent with the population
/// registry: every citizen's birth on their date of birth, registered at their commune
/// within 60 days; deaths at rates that rise with age, after the citizen's ID card was
/// issued; marriages between synthetic citizens of the other sex within 7 birth years of
/// each other, after both reached the legal age (20 for men, 18 for women, Luật HN&GĐ 2014
/// art. 8) and before either died, one in eleven dissolved. Deterministic from the seed,
/// from a stream of its own, so the other registries' data does not change.
class SyntheticCivilStatus {
 public:
  explicit SyntheticCivilStatus(std::uint64_t seed);
  /// Every event of `c` known once `c` is added: their birth, their death, and a marriage
  /// to an earlier citizen (both spouses' rows). Called for each citizen, in order.
  std::vector<CivilEvent> events_for(const domain::CitizenRecord& c);

 private:
  struct Single {
    std::string citizen_id;
    int birth_year = 0;
    std::int64_t adult_day = 0;  // the day they may marry from
    std::int64_t last_day = 0;   // their death, or the end of the synthetic world
    std::string place;
  };
  std::optional<Single> single_for(const domain::CitizenRecord& c, std::int64_t last_day);
  void marry(const Single& a, const Single& b, std::vector<CivilEvent>& out);
  std::string number(const char* prefix, int year);

  seed::Rng rng_;
  std::deque<Single> waiting_men_;
  std::deque<Single> waiting_women_;
  std::uint64_t next_number_ = 0;
};

}  // namespace lgsp::registries::civil_status
