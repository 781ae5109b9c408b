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
  std::string legacy_id_number;  // old 9-digit card, "" when the citizen never had one
};

/// One row of the insurance registry (one per insured citizen).
struct InsuranceRow {
  std::string social_insurance_number;
  std::string health_insurance_card;
  std::string citizen_id;
  std::string status;  // active | suspended | ended
  std::string coverage_start;
  std::string coverage_end;
  std::string hospital_province;
  std::string hospital_facility_code;
  int benefit_level = 0;
};

/// One row of the vehicle registry.
struct VehicleRow {
  std::string plate_number;  // canonical form
  std::string owner_citizen_id;
  std::string vehicle_type;  // motorbike | car | truck
  std::string brand;
  std::string model;
  std::string colour;
  std::string engine_number;
  std::string chassis_number;
  std::string registration_date;
  std::string status;  // registered | deregistered | reported_stolen
};

}  // namespace lgsp::domain
