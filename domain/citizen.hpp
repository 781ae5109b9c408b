#pragma once

#include <string>

namespace lgsp::domain {

/// One row of the population registry, as the backends store it and the seeder writes it.
/// Dates are ISO 8601 strings, gender "male"/"female", names in NFC with diacritics.
struct CitizenRecord {
  std::string citizen_id;
  std::string full_name;
  std::string date_of_birth;
  std::string gender;
  std::string place_of_origin;  // province name
  std::string province;         // permanent address
  std::string district;
  std::string commune;
  std::string id_card_issue_date;
};

}  // namespace lgsp::domain
