#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "connectors/backends/population_store.hpp"
#include "connectors/backends/sqlite.hpp"

namespace lgsp::connectors {

/// The population registry in one SQLite file (the embedded default). Opened read-only
/// with a memory map; one connection per instance, used by one thread.
class SqlitePopulationStore final : public PopulationStore {
 public:
  /// Throws std::runtime_error when the file is missing or has no citizens table, with the
  /// hint to run `lgsp seed`.
  explicit SqlitePopulationStore(const std::string& path);

  boost::system::result<std::optional<domain::CitizenRecord>> find_citizen(
      std::string_view citizen_id) override;

  /// n records spread evenly over the registry (for `lgsp seed --samples`).
  std::vector<domain::CitizenRecord> samples(std::int64_t n);
  std::int64_t count();

 private:
  sqlite::Db db_;
  sqlite::Stmt find_;
};

/// Writes a fresh population registry as fast as SQLite allows: into `path`.tmp with no
/// journal, one transaction, the unique index built after the load, then renamed over `path`
/// so readers never see a half-written registry. Used by `lgsp seed`.
class SqlitePopulationWriter {
 public:
  explicit SqlitePopulationWriter(std::string path);
  ~SqlitePopulationWriter();
  void add(const domain::CitizenRecord& r);
  /// Builds the index, records `meta` (key/value) and publishes the file.
  void finish(const std::vector<std::pair<std::string, std::string>>& meta);

 private:
  std::string path_;
  std::string tmp_path_;
  sqlite::Db db_;
  sqlite::Stmt insert_;
  bool finished_ = false;
};

}  // namespace lgsp::connectors
