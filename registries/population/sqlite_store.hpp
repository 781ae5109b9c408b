#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "registries/backends/sqlite_commands.hpp"
#include "registries/population/store.hpp"
#include "util/sqlite.hpp"

namespace lgsp::registries::population {

/// The population registry in a SQLite file (the embedded default), opened read-only with a
/// memory map and prepared statements; one instance per thread. The constructor throws
/// std::runtime_error when the file is missing, with the hint to run `lgsp seed`.
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
  StoreResult<CommandOutcome> apply(const bus::v1::Request& command) override;

  /// The list sizes find_citizens() prepares statements for.
  static constexpr std::array<std::size_t, 7> kIdListSizes{1, 8, 32, 128, 256, 1024, 4096};

 private:
  sqlite::Db db_;
  sqlite_rows::SqliteCommands commands_;
  sqlite::Stmt by_id_;
  sqlite::Stmt by_legacy_;
  std::array<sqlite::Stmt, kIdListSizes.size()> by_ids_;  // [i]: kIdListSizes[i] parameters
};

/// SQLite bulk writer: a fresh file, renamed into place at finish().
class SqlitePopulationWriter final : public PopulationWriter {
 public:
  explicit SqlitePopulationWriter(std::string path);
  void add(const domain::CitizenRecord& r) override;
  void finish(const Meta& meta) override;

 private:
  sqlite::BulkWriter w_;
};

}  // namespace lgsp::registries::population
