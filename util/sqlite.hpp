#pragma once

#include <sqlite3.h>

#include <boost/system/error_category.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lgsp::sqlite {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

/// Opens a database; throws std::runtime_error naming the path and SQLite's reason.
Db open(const std::string& path, int flags);
/// Runs SQL without results; throws with the statement's error.
void exec(sqlite3* db, const char* sql);
Stmt prepare(sqlite3* db, std::string_view sql);
/// Binds text without copying: keep it alive until the statement is stepped and reset.
void bind_text(sqlite3_stmt* s, int index, std::string_view text);
/// Column text as string ("" for NULL).
std::string column_text(sqlite3_stmt* s, int index);

/// The error category for SQLite result codes, so store errors travel in result<T>.
const boost::system::error_category& sqlite_category();

/// Resets a statement on scope exit so it never holds a read transaction open (which would
/// stop WAL checkpoints) and its bound text is released before the caller's strings die.
class ResetGuard {
 public:
  explicit ResetGuard(sqlite3_stmt* s) : s_(s) {}
  ~ResetGuard() { sqlite3_reset(s_); }
  ResetGuard(const ResetGuard&) = delete;
  ResetGuard& operator=(const ResetGuard&) = delete;

 private:
  sqlite3_stmt* s_;
};

/// A write transaction: BEGIN IMMEDIATE (the write lock at once, so what it reads stays
/// true until COMMIT even with writers in other processes), rolled back unless committed.
class WriteTransaction {
 public:
  explicit WriteTransaction(sqlite3* db) : db_(db) { exec(db_, "BEGIN IMMEDIATE"); }
  ~WriteTransaction() {
    if (!committed_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  void commit() {
    exec(db_, "COMMIT");
    committed_ = true;
  }

 private:
  sqlite3* db_;
  bool committed_ = false;
};

}  // namespace lgsp::sqlite

namespace lgsp::sqlite {

/// Writes a fresh registry file as fast as SQLite allows: into `path`.tmp with no journal,
/// one transaction, indexes built after the load, then renamed over `path` so readers never
/// see a half-written registry. Not thread-safe.
class BulkWriter {
 public:
  /// schema: CREATE TABLE statements; insert: the one INSERT with ?1..?N.
  BulkWriter(std::string path, const char* schema, std::string_view insert);
  ~BulkWriter();
  BulkWriter(const BulkWriter&) = delete;
  BulkWriter& operator=(const BulkWriter&) = delete;

  /// The insert statement, to bind; then call step_insert().
  sqlite3_stmt* insert() { return insert_.get(); }
  void step_insert();
  /// Builds the indexes (`index_sql`), stores `meta` in registry_meta, publishes the file.
  void finish(const char* index_sql, const std::vector<std::pair<std::string, std::string>>& meta);

 private:
  std::string path_;
  std::string tmp_path_;
  Db db_;
  Stmt insert_;
  bool finished_ = false;
};

}  // namespace lgsp::sqlite
