#pragma once

// The procedures the integration tests run, shared by their suites.
namespace lgsp::testing {

/// The birth and the death procedure as config/dev.yaml defines them.
inline constexpr const char* kProceduresYaml = R"(
procedures:
  sqlite_path: @DIR@/procedures.db
  step_timeout_ms: 3000
  definitions:
    birth-registration:
      title: Birth registration + permanent residence + health insurance card under 6
      steps:
        - name: citizen
          registry: population
          command: register-newborn
          args:
            full_name: input.child_full_name
            date_of_birth: input.date_of_birth
            gender: input.gender
            birth_province_code: input.birth_province_code
            place_of_origin: input.place_of_origin
            province: input.province
            district: input.district
            commune: input.commune
        - name: birth
          registry: civil-status
          command: record-birth
          args:
            citizen_id: citizen.citizen_id
            date_of_birth: input.date_of_birth
            place_of_registration: input.place_of_registration
        - name: card
          registry: insurance
          command: issue-child-card
          args:
            citizen_id: citizen.citizen_id
            date_of_birth: input.date_of_birth
            hospital_province: input.province
            hospital_facility_code: input.hospital_facility_code
    death-registration:
      title: Death registration + deregistration of permanent residence + funeral allowance
      steps:
        - name: death
          registry: civil-status
          command: record-death
          args:
            citizen_id: input.citizen_id
            date_of_death: input.date_of_death
            place_of_registration: input.place_of_registration
        - name: residence
          registry: population
          command: deregister-residence
          args: {citizen_id: input.citizen_id, date_of_death: input.date_of_death}
        - name: allowance
          registry: insurance
          command: grant-funeral-allowance
          args: {citizen_id: input.citizen_id, date_of_death: input.date_of_death}
)";

}  // namespace lgsp::testing
