#pragma once

#include <boost/system/result.hpp>
#include <optional>
#include <string_view>
#include <vector>

#include "domain/citizen.hpp"

namespace lgsp::connectors {

template <class T>
using StoreResult = boost::system::result<T>;

/// Read access to each registry of record. Implementations: SQLite (embedded default) and
/// PostgreSQL. An instance is used by one thread (the connector's poll loop).
/// "Not found" is an empty optional/vector; an error means the store could not answer.
class PopulationStore {
 public:
  virtual ~PopulationStore() = default;
  virtual StoreResult<std::optional<domain::CitizenRecord>> find_citizen(
      std::string_view citizen_id) = 0;
  /// By the old 9-digit identity card number the registry links to the citizen.
  virtual StoreResult<std::optional<domain::CitizenRecord>> find_by_legacy_id(
      std::string_view legacy_id) = 0;
};

class InsuranceStore {
 public:
  virtual ~InsuranceStore() = default;
  virtual StoreResult<std::optional<domain::InsuranceRow>> find_by_citizen(
      std::string_view citizen_id) = 0;
  virtual StoreResult<std::optional<domain::InsuranceRow>> find_by_sin(std::string_view sin) = 0;
};

class VehicleStore {
 public:
  virtual ~VehicleStore() = default;
  virtual StoreResult<std::optional<domain::VehicleRow>> find_by_plate(std::string_view plate) = 0;
  virtual StoreResult<std::vector<domain::VehicleRow>> find_by_owner(
      std::string_view citizen_id) = 0;
};

}  // namespace lgsp::connectors
