#include "util/sqlite.hpp"

#include <filesystem>
#include <stdexcept>

namespace lgsp::sqlite {
namespace {

class SqliteCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "sqlite"; }
  std::string message(int ev) const override { return sqlite3_errstr(ev); }
};

}  // namespace

const boost::system::error_category& sqlite_category() {
  static const SqliteCategory category;
  return category;
}

Db open(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db(raw);  // sqlite3_open_v2 allocates a handle even on failure; it must be closed
  if (rc != SQLITE_OK) {
    throw std::runtime_error("cannot open SQLite database " + path + ": " +
                             (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(db.get(), 5000);
  return db;
}

void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error("SQLite: " + msg + " in: " + sql);
  }
}

Stmt prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &raw, nullptr) != SQLITE_OK) {
    throw std::runtime_error(std::string("SQLite prepare: ") + sqlite3_errmsg(db));
  }
  return Stmt(raw);
}

void bind_text(sqlite3_stmt* s, int index, std::string_view text) {
  // nullptr destructor = SQLITE_STATIC: no copy; the caller keeps `text` alive until the
  // statement is stepped and reset (every caller binds, steps and resets in one scope).
  sqlite3_bind_text(s, index, text.data(), static_cast<int>(text.size()), nullptr);
}

std::string column_text(sqlite3_stmt* s, int index) {
  const auto* p = sqlite3_column_text(s, index);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<std::size_t>(sqlite3_column_bytes(s, index)));
}

}  // namespace lgsp::sqlite

namespace lgsp::sqlite {

BulkWriter::BulkWriter(std::string path, const char* schema, std::string_view insert)
    : path_(std::move(path)), tmp_path_(path_ + ".tmp") {
  if (const auto dir = std::filesystem::path(path_).parent_path(); !dir.empty()) {
    std::filesystem::create_directories(dir);
  }
  std::filesystem::remove(tmp_path_);
  db_ = open(tmp_path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
  // A half-written file is thrown away, so durability during the load buys nothing.
  exec(db_.get(),
       "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE;"
       "PRAGMA cache_size=-262144; PRAGMA temp_store=MEMORY;"
       "CREATE TABLE registry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);");
  exec(db_.get(), schema);
  exec(db_.get(), "BEGIN;");
  insert_ = prepare(db_.get(), insert);
}

BulkWriter::~BulkWriter() {
  if (!finished_) {
    insert_.reset();
    db_.reset();
    std::error_code ignored;
    std::filesystem::remove(tmp_path_, ignored);
  }
}

void BulkWriter::step_insert() {
  const int rc = sqlite3_step(insert_.get());
  sqlite3_reset(insert_.get());
  if (rc != SQLITE_DONE) {
    throw std::runtime_error(std::string("SQLite insert into ") + path_ + ": " +
                             sqlite3_errmsg(db_.get()));
  }
}

void BulkWriter::finish(const char* index_sql,
                        const std::vector<std::pair<std::string, std::string>>& meta) {
  auto put = prepare(db_.get(), "INSERT INTO registry_meta VALUES (?1, ?2)");
  for (const auto& [k, v] : meta) {
    bind_text(put.get(), 1, k);
    bind_text(put.get(), 2, v);
    sqlite3_step(put.get());
    sqlite3_reset(put.get());
  }
  put.reset();
  insert_.reset();
  // Indexes built once over the loaded rows are far faster than keys kept ordered during
  // random inserts.
  exec(db_.get(), index_sql);
  exec(db_.get(), "COMMIT; PRAGMA locking_mode=NORMAL; PRAGMA journal_mode=WAL;");
  db_.reset();
  // Stale WAL files of a previous registry must not be applied to the new one.
  std::error_code ignored;
  std::filesystem::remove(path_ + "-wal", ignored);
  std::filesystem::remove(path_ + "-shm", ignored);
  std::filesystem::rename(tmp_path_, path_);
  finished_ = true;
}

}  // namespace lgsp::sqlite
