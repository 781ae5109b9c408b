#pragma once

#include <algorithm>
#include <boost/system/result.hpp>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "util/sqlite.hpp"

namespace lgsp::registries::sqlite_rows {

template <class T>
using StoreResult = boost::system::result<T>;

/// Opens a seeded registry file read-only with a memory map; throws with the hint to seed
/// it when the file is missing.
inline sqlite::Db open_registry(const std::string& path, std::string_view registry) {
  if (!std::filesystem::exists(path)) {
    throw std::runtime_error(std::string(registry) + " registry " + path +
                             " does not exist; create it with `lgsp seed --config <file>`");
  }
  auto db = sqlite::open(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
  sqlite::exec(db.get(), "PRAGMA mmap_size=1073741824; PRAGMA query_only=1;");
  return db;
}

inline sqlite::Stmt select(sqlite3* db, std::string_view columns, std::string_view table,
                           std::string_view where) {
  return sqlite::prepare(db, "SELECT " + std::string(columns) + " FROM " + std::string(table) +
                                 " WHERE " + std::string(where));
}

/// Steps a bound statement to its end, appending every row to `rows`, and resets it.
template <class Row, class Read>
boost::system::error_code read_all(sqlite3_stmt* s, Read read, std::vector<Row>& rows) {
  int rc = 0;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) rows.push_back(read(s));
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return {rc, sqlite::sqlite_category()};
  return {};
}

/// Runs a prepared one-parameter query and reads every row.
template <class Row, class Read>
StoreResult<std::vector<Row>> query(sqlite3_stmt* s, std::string_view key, Read read) {
  sqlite::bind_text(s, 1, key);
  std::vector<Row> rows;
  if (const auto ec = read_all(s, read, rows)) return ec;
  return rows;
}

template <class Row, class Read>
StoreResult<std::optional<Row>> query_one(sqlite3_stmt* s, std::string_view key, Read read) {
  auto rows = query<Row>(s, key, read);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<Row>{};
  return std::optional<Row>(std::move(rows->front()));
}

/// n rows spread evenly by rowid.
template <class Row, class Read>
std::vector<Row> spread(sqlite3* db, std::string_view columns, std::string_view table,
                        std::int64_t n, Read read) {
  std::vector<Row> out;
  auto count = sqlite::prepare(db, "SELECT max(rowid) FROM " + std::string(table));
  const std::int64_t total =
      sqlite3_step(count.get()) == SQLITE_ROW ? sqlite3_column_int64(count.get(), 0) : 0;
  if (total == 0 || n <= 0) return out;
  auto s = select(db, columns, table, "rowid = ?1");
  const std::int64_t step = std::max<std::int64_t>(1, total / n);
  for (std::int64_t i = 0; i < n && i * step < total; ++i) {
    sqlite3_bind_int64(s.get(), 1, 1 + i * step);
    if (sqlite3_step(s.get()) == SQLITE_ROW) out.push_back(read(s.get()));
    sqlite3_reset(s.get());
  }
  return out;
}

inline void bind_all(sqlite3_stmt* s, std::initializer_list<std::string_view> values) {
  int i = 1;
  for (auto v : values) sqlite::bind_text(s, i++, v);
}

}  // namespace lgsp::registries::sqlite_rows
