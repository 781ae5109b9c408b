#pragma once

#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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
  /// The records of those of `citizen_ids` that exist, in one query (a bulk job's chunk), in no
  /// particular order and each once (ids may repeat or be unknown).
  virtual StoreResult<std::vector<domain::CitizenRecord>> find_citizens(
      const std::vector<std::string>& citizen_ids) = 0;
  /// n records spread evenly over the registry (for `lgsp seed --samples` and tests).
  virtual std::vector<domain::CitizenRecord> samples(std::int64_t n) = 0;
};

class InsuranceStore {
 public:
  virtual ~InsuranceStore() = default;
  virtual StoreResult<std::optional<domain::InsuranceRow>> find_by_citizen(
      std::string_view citizen_id) = 0;
  virtual StoreResult<std::optional<domain::InsuranceRow>> find_by_sin(std::string_view sin) = 0;
  virtual std::vector<domain::InsuranceRow> samples(std::int64_t n) = 0;
};

class VehicleStore {
 public:
  virtual ~VehicleStore() = default;
  virtual StoreResult<std::optional<domain::VehicleRow>> find_by_plate(std::string_view plate) = 0;
  virtual StoreResult<std::vector<domain::VehicleRow>> find_by_owner(
      std::string_view citizen_id) = 0;
  virtual std::vector<domain::VehicleRow> samples(std::int64_t n) = 0;
};

using Meta = std::vector<std::pair<std::string, std::string>>;

/// Bulk writers for `lgsp seed`: each replaces its registry with what was added, atomically
/// at finish() (readers see the old registry until then). Not thread-safe.
template <class Row>
class RegistryWriter {
 public:
  virtual ~RegistryWriter() = default;
  virtual void add(const Row& row) = 0;
  virtual void finish(const Meta& meta) = 0;
};
using PopulationWriter = RegistryWriter<domain::CitizenRecord>;
using InsuranceWriter = RegistryWriter<domain::InsuranceRow>;
using VehicleWriter = RegistryWriter<domain::VehicleRow>;

}  // namespace lgsp::connectors
