#pragma once

#include <boost/system/result.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "bus/envelope.hpp"
#include "registries/commands.hpp"
#include "util/sqlite.hpp"

namespace lgsp::registries::sqlite_rows {

/// What the registry recorded of an applied command.
struct Applied {
  std::string command;
  CommandOutcome outcome;
};

/// Applies commands to a registry's SQLite file exactly once per command id: each command
/// runs in one IMMEDIATE transaction with its row in `applied_commands` (id, command,
/// outcome, result, citizen, time), so a command that arrives again (a procedure retrying
/// after a timeout, a redelivered Kafka message) gets the recorded outcome and changes
/// nothing. Every command that changes a citizen's record queues its change event in the
/// file's change outbox in the same transaction (change_outbox.hpp). Opens its own read-write
/// connection at the first command (the store's readers stay read-only); waits up to 5 s for
/// another writer (a second connector instance). One instance per thread.
class SqliteCommands {
 public:
  /// Changes the registry; throws (sqlite::exec) when a statement fails.
  using Change = std::function<CommandOutcome(sqlite3* db)>;

  /// `schema`: the tables the registry's commands keep beside its own (CREATE TABLE IF NOT
  /// EXISTS), created with the ledger and the change outbox.
  SqliteCommands(std::string registry, std::string path, std::string schema = {})
      : registry_(std::move(registry)), path_(std::move(path)), schema_(std::move(schema)) {}

  /// Runs `change` for `request` unless its command id was applied before (then that outcome;
  /// a rejection when the id was used by another command).
  boost::system::result<CommandOutcome> run(const bus::v1::Request& request, const Change& change);

  /// The command recorded under `command_id`, if any (for an undo: what to undo). Only
  /// inside a Change.
  std::optional<Applied> find(sqlite3* db, std::string_view command_id);
  /// An undo (inside a Change): when the command it undoes was `undone_command` and applied,
  /// runs `statements` in order with ?1 = the citizen that command changed; otherwise changes
  /// nothing.
  CommandOutcome undo(sqlite3* db, const bus::v1::Request& request, std::string_view undone_command,
                      std::initializer_list<std::string_view> statements);

 private:
  sqlite3* db();

  std::string registry_;
  std::string path_;
  std::string schema_;
  sqlite::Db db_;
};

/// The id of the command an undo undoes: "<id>/undo" → "<id>".
std::string_view undone_id(std::string_view undo_command_id);

/// Runs a one-row statement built from `sql` with text parameters; throws on failure. Returns
/// the number of rows changed.
int change_rows(sqlite3* db, std::string_view sql, std::initializer_list<std::string_view> values);
/// Whether `sql` with text parameters returns a row.
bool exists(sqlite3* db, std::string_view sql, std::initializer_list<std::string_view> values);

}  // namespace lgsp::registries::sqlite_rows
