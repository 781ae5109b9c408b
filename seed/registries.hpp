#pragma once

#include <optional>
#include <unordered_map>
#include <vector>

#include "domain/citizen.hpp"
#include "seed/synthetic.hpp"

namespace lgsp::seed {

/// Insurance and vehicle records for the synthetic citizens, at realistic rates: about 93%
/// of citizens hold health insurance; about two thirds of adults own a motorbike and one in
/// twelve a car. Deterministic from the seed, and drawn from a stream of their own, so
/// adding these registries does not change the citizens.
class SyntheticHoldings {
 public:
  explicit SyntheticHoldings(std::uint64_t seed);
  std::optional<domain::InsuranceRow> insurance_for(const domain::CitizenRecord& c);
  std::vector<domain::VehicleRow> vehicles_for(const domain::CitizenRecord& c);

 private:
  Rng rng_;
  std::uint64_t next_sin_ = 0;
  std::unordered_map<std::string, std::uint32_t> plate_serials_;
};

}  // namespace lgsp::seed
