#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "bus/envelope.hpp"
#include "util/sqlite.hpp"

namespace lgsp::registries::sqlite_rows {

/// The change outbox of a registry's SQLite file: every change a command makes is queued
/// here in the command's own transaction (so a change is never applied without its event, nor
/// announced without being applied), and the connector sends the queue to the changes topic
/// in order, removing what the cluster acknowledged.
inline constexpr const char* kOutboxSchema =
    "CREATE TABLE IF NOT EXISTS change_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " event BLOB NOT NULL);";

/// The change event id of the command `command_id` applied by `registry`: "chg-" and 32 hex
/// digits of a SHA-256 of both. The same for every delivery of that command, and saying
/// nothing of the command id (which names a partner's procedure).
std::string change_event_id(std::string_view registry, std::string_view command_id);

/// The change event of the command `request` applied by `registry` to `citizen_id`'s record,
/// with `result_json` (a flat JSON object) as its result: its data is the command's arguments
/// and the result's string members; an undo's `voids` names the change it takes back.
bus::v1::ChangeEvent make_change(std::string_view registry, const bus::v1::Request& request,
                                 const std::string& citizen_id, std::string_view result_json);

/// The string members of a flat JSON object (a command's result, a change's stored data);
/// other members, or text that is not an object, give nothing.
std::map<std::string, std::string> string_members(std::string_view json);

/// Queues `event` (inside the command's transaction, on its connection). Throws on failure.
void queue_change(sqlite3* db, const bus::v1::ChangeEvent& event);

/// The connector's side of the outbox: its own connection to the registry file. One thread.
class ChangeOutbox {
 public:
  explicit ChangeOutbox(std::string path) : path_(std::move(path)) {}

  struct Pending {
    std::int64_t seq = 0;
    std::string event;  // an encoded ChangeEvent
  };
  /// Up to `max` queued changes after `seq`, oldest first (none while the registry has never
  /// applied a command). Throws on a database failure.
  std::vector<Pending> after(std::int64_t seq, std::size_t max);
  /// How many changes wait in the queue.
  std::int64_t waiting();
  /// Removes the changes `seqs` from the queue (sent and acknowledged).
  void remove(const std::vector<std::int64_t>& seqs);
  /// Queues `event` in a transaction of its own (an outbox of the connector's, for a registry
  /// whose changes are applied elsewhere). Throws on failure.
  void add(const bus::v1::ChangeEvent& event);

 private:
  sqlite3* db();

  std::string path_;
  sqlite::Db db_;
};

}  // namespace lgsp::registries::sqlite_rows
