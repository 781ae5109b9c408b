#include "connectors/backends/sqlite.hpp"

#include <stdexcept>

namespace lgsp::connectors::sqlite {
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

}  // namespace lgsp::connectors::sqlite
