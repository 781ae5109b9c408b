#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bus/envelope.hpp"
#include "util/sqlite.hpp"

namespace lgsp::changes {

/// One change as the feed keeps it: the changes topic's offset is its cursor.
struct Change {
  std::int64_t offset = 0;
  std::string event_id;
  std::string registry;
  std::string kind;  // the command: "record-death"
  std::string citizen_id;
  std::map<std::string, std::string> data;
  std::string voids;
  std::int64_t time_unix_ms = 0;      // applied by the registry
  std::int64_t received_unix_ms = 0;  // taken from the topic by this gateway
};

/// A page of the feed for one reader.
struct Page {
  std::vector<Change> changes;
  /// The cursor to ask after next time: the last change returned, or, when fewer than the
  /// limit matched, the last offset this gateway has taken from the topic (so changes the
  /// reader may not see are not scanned again).
  std::int64_t next = -1;
  /// The reader's cursor is older than what retention deleted: changes may be lost to it.
  bool expired = false;
  std::int64_t purged_through = -1;
};

/// This gateway's copy of the changes topic, in a SQLite file (WAL, synchronous FULL): every
/// verified change by offset, one per event id, and the next offset to take. Thread-safe:
/// one writer (the ingestor) and any number of readers.
class ChangeStore {
 public:
  explicit ChangeStore(const std::string& path);

  /// The offset to resume the topic at (0 for a new store).
  std::int64_t next_offset();
  /// Stores `changes` (a duplicate event id is skipped) and moves the resume offset to
  /// `next_offset`, in one transaction. Returns how many were new.
  std::size_t append(const std::vector<Change>& changes, std::int64_t next_offset);
  /// Up to `limit` changes after `after` whose "<registry>.<kind>" is in `kinds`, oldest first
  /// (`after` -1: from the oldest change kept).
  Page read(std::int64_t after, const std::set<std::string>& kinds, std::size_t limit);
  /// Deletes changes received before `before_unix_ms`; returns how many.
  std::size_t purge(std::int64_t before_unix_ms);
  /// Where a partner's webhook deliveries have reached: the cursor after which the next one
  /// starts (-1: none delivered yet, start from the oldest change kept).
  std::int64_t webhook_cursor(const std::string& partner_id);
  void set_webhook_cursor(const std::string& partner_id, std::int64_t after);
  /// The last offset taken from the topic (-1: none yet); cheap, for long-poll waiters.
  std::int64_t high() const { return high_.load(); }

 private:
  std::mutex write_mu_;
  std::mutex read_mu_;
  sqlite::Db writer_;
  sqlite::Db reader_;
  std::atomic<std::int64_t> high_{-1};
};

}  // namespace lgsp::changes
