#include "connectors/backends/sqlite_population_store.hpp"

#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace lgsp::connectors {
namespace {

constexpr std::string_view kColumns =
    "citizen_id, full_name, date_of_birth, gender, place_of_origin, province, district, commune, "
    "id_card_issue_date";

domain::CitizenRecord read_row(sqlite3_stmt* s) {
  return {sqlite::column_text(s, 0), sqlite::column_text(s, 1), sqlite::column_text(s, 2),
          sqlite::column_text(s, 3), sqlite::column_text(s, 4), sqlite::column_text(s, 5),
          sqlite::column_text(s, 6), sqlite::column_text(s, 7), sqlite::column_text(s, 8)};
}

}  // namespace

SqlitePopulationStore::SqlitePopulationStore(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    throw std::runtime_error("population registry " + path +
                             " does not exist; create it with `lgsp seed --config <file>`");
  }
  db_ = sqlite::open(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
  sqlite::exec(db_.get(), "PRAGMA mmap_size=1073741824; PRAGMA query_only=1;");
  find_ = sqlite::prepare(
      db_.get(), "SELECT " + std::string(kColumns) + " FROM citizens WHERE citizen_id = ?1");
}

boost::system::result<std::optional<domain::CitizenRecord>> SqlitePopulationStore::find_citizen(
    std::string_view citizen_id) {
  sqlite3_stmt* s = find_.get();
  sqlite::bind_text(s, 1, citizen_id);
  const int rc = sqlite3_step(s);
  std::optional<domain::CitizenRecord> out;
  if (rc == SQLITE_ROW) out = read_row(s);
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return boost::system::error_code(rc, sqlite::sqlite_category());
  }
  return out;
}

std::int64_t SqlitePopulationStore::count() {
  auto s = sqlite::prepare(db_.get(), "SELECT max(rowid) FROM citizens");
  return sqlite3_step(s.get()) == SQLITE_ROW ? sqlite3_column_int64(s.get(), 0) : 0;
}

std::vector<domain::CitizenRecord> SqlitePopulationStore::samples(std::int64_t n) {
  std::vector<domain::CitizenRecord> out;
  const std::int64_t total = count();
  if (total == 0 || n <= 0) return out;
  auto s = sqlite::prepare(db_.get(),
                           "SELECT " + std::string(kColumns) + " FROM citizens WHERE rowid = ?1");
  const std::int64_t step = std::max<std::int64_t>(1, total / n);
  for (std::int64_t i = 0; i < n && i * step < total; ++i) {
    sqlite3_bind_int64(s.get(), 1, 1 + i * step);
    if (sqlite3_step(s.get()) == SQLITE_ROW) out.push_back(read_row(s.get()));
    sqlite3_reset(s.get());
  }
  return out;
}

SqlitePopulationWriter::SqlitePopulationWriter(std::string path)
    : path_(std::move(path)), tmp_path_(path_ + ".tmp") {
  if (const auto dir = std::filesystem::path(path_).parent_path(); !dir.empty()) {
    std::filesystem::create_directories(dir);
  }
  std::filesystem::remove(tmp_path_);
  db_ = sqlite::open(tmp_path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
  // A half-written file is thrown away, so durability during the load buys nothing.
  sqlite::exec(db_.get(),
               "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE;"
               "PRAGMA cache_size=-262144; PRAGMA temp_store=MEMORY;"
               "CREATE TABLE citizens (citizen_id TEXT NOT NULL, full_name TEXT NOT NULL,"
               " date_of_birth TEXT NOT NULL, gender TEXT NOT NULL, place_of_origin TEXT NOT NULL,"
               " province TEXT NOT NULL, district TEXT NOT NULL, commune TEXT NOT NULL,"
               " id_card_issue_date TEXT NOT NULL);"
               "CREATE TABLE registry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
               "BEGIN;");
  insert_ = sqlite::prepare(db_.get(), "INSERT INTO citizens VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)");
}

SqlitePopulationWriter::~SqlitePopulationWriter() {
  if (!finished_) {
    insert_.reset();
    db_.reset();
    std::error_code ignored;
    std::filesystem::remove(tmp_path_, ignored);
  }
}

void SqlitePopulationWriter::add(const domain::CitizenRecord& r) {
  sqlite3_stmt* s = insert_.get();
  sqlite::bind_text(s, 1, r.citizen_id);
  sqlite::bind_text(s, 2, r.full_name);
  sqlite::bind_text(s, 3, r.date_of_birth);
  sqlite::bind_text(s, 4, r.gender);
  sqlite::bind_text(s, 5, r.place_of_origin);
  sqlite::bind_text(s, 6, r.province);
  sqlite::bind_text(s, 7, r.district);
  sqlite::bind_text(s, 8, r.commune);
  sqlite::bind_text(s, 9, r.id_card_issue_date);
  const int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE)
    throw std::runtime_error(std::string("SQLite insert: ") + sqlite3_errmsg(db_.get()));
}

void SqlitePopulationWriter::finish(const std::vector<std::pair<std::string, std::string>>& meta) {
  auto put = sqlite::prepare(db_.get(), "INSERT INTO registry_meta VALUES (?1, ?2)");
  for (const auto& [k, v] : meta) {
    sqlite::bind_text(put.get(), 1, k);
    sqlite::bind_text(put.get(), 2, v);
    sqlite3_step(put.get());
    sqlite3_reset(put.get());
  }
  put.reset();
  insert_.reset();
  // A unique index built once over sorted keys is far faster than a primary key kept
  // ordered during random inserts.
  sqlite::exec(db_.get(), "CREATE UNIQUE INDEX citizens_by_id ON citizens(citizen_id); COMMIT;");
  sqlite::exec(db_.get(), "PRAGMA locking_mode=NORMAL; PRAGMA journal_mode=WAL;");
  db_.reset();
  // Stale WAL files of a previous registry must not be applied to the new one.
  std::error_code ignored;
  std::filesystem::remove(path_ + "-wal", ignored);
  std::filesystem::remove(path_ + "-shm", ignored);
  std::filesystem::rename(tmp_path_, path_);
  finished_ = true;
}

}  // namespace lgsp::connectors
