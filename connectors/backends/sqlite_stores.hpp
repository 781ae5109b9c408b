#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "connectors/backends/sqlite.hpp"
#include "connectors/backends/stores.hpp"

namespace lgsp::connectors {

/// The registries in SQLite files (the embedded default). Each store opens its file
/// read-only with a memory map and prepared statements; one instance per thread.
/// Constructors throw std::runtime_error when the file is missing, with the hint to run
/// `lgsp seed`.
class SqlitePopulationStore final : public PopulationStore {
 public:
  explicit SqlitePopulationStore(const std::string& path);
  StoreResult<std::optional<domain::CitizenRecord>> find_citizen(
      std::string_view citizen_id) override;
  StoreResult<std::optional<domain::CitizenRecord>> find_by_legacy_id(
      std::string_view legacy_id) override;
  /// One `IN (?,...)` statement, its list padded to the next of a few fixed sizes (prepared
  /// on first use); more IDs than the largest size take one query per slice.
  StoreResult<std::vector<domain::CitizenRecord>> find_citizens(
      const std::vector<std::string>& citizen_ids) override;
  std::vector<domain::CitizenRecord> samples(std::int64_t n) override;

  /// The list sizes find_citizens() prepares statements for.
  static constexpr std::array<std::size_t, 7> kIdListSizes{1, 8, 32, 128, 256, 1024, 4096};

 private:
  sqlite::Db db_;
  sqlite::Stmt by_id_;
  sqlite::Stmt by_legacy_;
  std::array<sqlite::Stmt, kIdListSizes.size()> by_ids_;  // [i]: kIdListSizes[i] parameters
};

class SqliteInsuranceStore final : public InsuranceStore {
 public:
  explicit SqliteInsuranceStore(const std::string& path);
  StoreResult<std::optional<domain::InsuranceRow>> find_by_citizen(
      std::string_view citizen_id) override;
  StoreResult<std::optional<domain::InsuranceRow>> find_by_sin(std::string_view sin) override;
  std::vector<domain::InsuranceRow> samples(std::int64_t n) override;

 private:
  sqlite::Db db_;
  sqlite::Stmt by_citizen_;
  sqlite::Stmt by_sin_;
};

class SqliteVehicleStore final : public VehicleStore {
 public:
  explicit SqliteVehicleStore(const std::string& path);
  StoreResult<std::optional<domain::VehicleRow>> find_by_plate(std::string_view plate) override;
  StoreResult<std::vector<domain::VehicleRow>> find_by_owner(std::string_view citizen_id) override;
  std::vector<domain::VehicleRow> samples(std::int64_t n) override;

 private:
  sqlite::Db db_;
  sqlite::Stmt by_plate_;
  sqlite::Stmt by_owner_;
};

/// SQLite bulk writers: a fresh file per registry, renamed into place at finish().
class SqlitePopulationWriter final : public RegistryWriter<domain::CitizenRecord> {
 public:
  explicit SqlitePopulationWriter(std::string path);
  void add(const domain::CitizenRecord& r) override;
  void finish(const Meta& meta) override;

 private:
  sqlite::BulkWriter w_;
};

class SqliteInsuranceWriter final : public RegistryWriter<domain::InsuranceRow> {
 public:
  explicit SqliteInsuranceWriter(std::string path);
  void add(const domain::InsuranceRow& r) override;
  void finish(const Meta& meta) override;

 private:
  sqlite::BulkWriter w_;
};

class SqliteVehicleWriter final : public RegistryWriter<domain::VehicleRow> {
 public:
  explicit SqliteVehicleWriter(std::string path);
  void add(const domain::VehicleRow& r) override;
  void finish(const Meta& meta) override;

 private:
  sqlite::BulkWriter w_;
};

}  // namespace lgsp::connectors
