#include "registries/backends/sqlite_commands.hpp"

#include <exception>

#include "registries/backends/change_outbox.hpp"

#include "observability/log.hpp"
#include "util/clock.hpp"

namespace lgsp::registries::sqlite_rows {
namespace {

constexpr const char* kLedger =
    "CREATE TABLE IF NOT EXISTS applied_commands (command_id TEXT PRIMARY KEY,"
    " command TEXT NOT NULL, rejected INTEGER NOT NULL, detail TEXT NOT NULL,"
    " result TEXT NOT NULL, citizen_id TEXT NOT NULL, applied_unix_ms INTEGER NOT NULL)"
    " WITHOUT ROWID;";

sqlite::Stmt bound(sqlite3* db, std::string_view sql,
                   std::initializer_list<std::string_view> values) {
  auto s = sqlite::prepare(db, sql);
  int i = 1;
  for (auto v : values) sqlite::bind_text(s.get(), i++, v);
  return s;
}

void record(sqlite3* db, std::string_view id, std::string_view command, const CommandOutcome& o) {
  auto s = bound(db,
                 "INSERT INTO applied_commands (command_id, command, rejected, detail, result,"
                 " citizen_id, applied_unix_ms) VALUES (?1, ?2, ?6, ?3, ?4, ?5, ?7)",
                 {id, command, o.detail, o.result, o.citizen_id});
  sqlite3_bind_int(s.get(), 6, o.rejected ? 1 : 0);
  sqlite3_bind_int64(s.get(), 7, util::unix_ms_now());
  if (sqlite3_step(s.get()) != SQLITE_DONE)
    throw std::runtime_error(std::string("SQLite: ") + sqlite3_errmsg(db));
}

}  // namespace

std::string_view undone_id(std::string_view undo_command_id) {
  constexpr std::string_view kSuffix = "/undo";
  if (undo_command_id.ends_with(kSuffix)) undo_command_id.remove_suffix(kSuffix.size());
  return undo_command_id;
}

int change_rows(sqlite3* db, std::string_view sql, std::initializer_list<std::string_view> values) {
  auto s = bound(db, sql, values);
  if (sqlite3_step(s.get()) != SQLITE_DONE)
    throw std::runtime_error(std::string("SQLite: ") + sqlite3_errmsg(db));
  return sqlite3_changes(db);
}

bool exists(sqlite3* db, std::string_view sql, std::initializer_list<std::string_view> values) {
  auto s = bound(db, sql, values);
  const int rc = sqlite3_step(s.get());
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    throw std::runtime_error(std::string("SQLite: ") + sqlite3_errmsg(db));
  return rc == SQLITE_ROW;
}

sqlite3* SqliteCommands::db() {
  if (!db_) {
    db_ = sqlite::open(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
    sqlite::exec(db_.get(), kLedger);
    sqlite::exec(db_.get(), kOutboxSchema);
    if (!schema_.empty()) sqlite::exec(db_.get(), schema_.c_str());
  }
  return db_.get();
}

std::optional<Applied> SqliteCommands::find(sqlite3* db, std::string_view command_id) {
  auto s = bound(db,
                 "SELECT command, rejected, detail, result, citizen_id FROM applied_commands"
                 " WHERE command_id = ?1",
                 {command_id});
  if (sqlite3_step(s.get()) != SQLITE_ROW) return std::nullopt;
  Applied a;
  a.command = sqlite::column_text(s.get(), 0);
  a.outcome.rejected = sqlite3_column_int(s.get(), 1) != 0;
  a.outcome.detail = sqlite::column_text(s.get(), 2);
  a.outcome.result = sqlite::column_text(s.get(), 3);
  a.outcome.citizen_id = sqlite::column_text(s.get(), 4);
  return a;
}

CommandOutcome SqliteCommands::undo(sqlite3* db, const bus::v1::Request& request,
                                    std::string_view undone_command,
                                    std::initializer_list<std::string_view> statements) {
  const auto done = find(db, undone_id(request.command_id()));
  if (!done || done->command != undone_command || done->outcome.rejected) return {};
  for (const auto sql : statements) change_rows(db, sql, {done->outcome.citizen_id});
  return {false, {}, "{}", done->outcome.citizen_id};
}

boost::system::result<CommandOutcome> SqliteCommands::run(const bus::v1::Request& request,
                                                          const Change& change) {
  sqlite3* conn = nullptr;
  try {
    conn = db();
    // IMMEDIATE: the write lock first, so two instances applying the same command id one
    // after the other never both find it absent.
    sqlite::exec(conn, "BEGIN IMMEDIATE");
    CommandOutcome outcome;
    if (auto seen = find(conn, request.command_id())) {
      outcome = seen->command == request.command()
                    ? std::move(seen->outcome)
                    : CommandOutcome{true, "this command id was used by another command", {}, {}};
    } else {
      outcome = change(conn);
      record(conn, request.command_id(), request.command(), outcome);
      // A change to a citizen's record (an undo that found nothing to undo changed none).
      if (!outcome.rejected && !outcome.citizen_id.empty())
        queue_change(conn, make_change(registry_, request, outcome.citizen_id, outcome.result));
    }
    sqlite::exec(conn, "COMMIT");
    return outcome;
  } catch (const std::exception& e) {
    if (conn != nullptr) sqlite3_exec(conn, "ROLLBACK", nullptr, nullptr, nullptr);
    obs::error("registry_command_failed", {{"command", request.command()}, {"error", e.what()}});
    const int code = conn != nullptr ? sqlite3_errcode(conn) : SQLITE_CANTOPEN;
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
      return boost::system::errc::make_error_code(
          boost::system::errc::resource_unavailable_try_again);
    return boost::system::error_code(code == SQLITE_OK ? SQLITE_ERROR : code,
                                     sqlite::sqlite_category());
  }
}

}  // namespace lgsp::registries::sqlite_rows
