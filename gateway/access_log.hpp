#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "audit/record.hpp"
#include "audit/store.hpp"

namespace lgsp::gateway {

/// Reads the audit chain for the citizen access log. Store queries block, so they run on a
/// thread of this reader's own, never on an io_context thread; the caller's coroutine
/// resumes on its own executor with the records or the store's error. The store is opened
/// (read-only) at the first query and again after a failure to open, so a gateway starts
/// before the audit writer has created the chain. Thread-safe.
class AccessLogReader {
 public:
  using Open = std::function<std::unique_ptr<audit::AuditStore>()>;
  /// `required`: a failure to open at construction is thrown (a database server that must
  /// be reachable); otherwise logged and retried at the first query (a SQLite file the
  /// writer has not created yet).
  AccessLogReader(Open open, bool required);
  ~AccessLogReader();
  AccessLogReader(const AccessLogReader&) = delete;
  AccessLogReader& operator=(const AccessLogReader&) = delete;

  /// Why no page: the store failed (`why`), or the reader is saturated (`busy`: too many
  /// queries waiting, or this one waited too long), which the caller answers with a retry.
  struct Unavailable {
    std::string why;
    bool busy = false;
  };
  /// One page of a citizen's log: the records the citizen may see now, newest first, and
  /// where the next page starts (pass as before_seq; 0 = the log's end).
  struct Listing {
    std::vector<audit::AuditRecord> records;
    std::int64_t next_before = 0;
  };
  /// The listing, or why not.
  using Page = std::variant<Listing, Unavailable>;
  /// Queries waiting for the store beyond which a new one is refused at once, and how long
  /// one may wait before it is dropped unrun (its caller has long given up).
  static constexpr std::size_t kMaxQueued = 32;
  static constexpr std::chrono::milliseconds kMaxWait{3000};

  /// Store reads one page may take to step over withheld records before it answers with
  /// what it has (and a next_before to go on from).
  static constexpr int kMaxRounds = 8;

  /// Newest first, records with seq < before_seq (0 = from the newest), at most `limit`,
  /// leaving out those withheld (a lawful investigation's) until after `now_unix_ms`: the
  /// page is filled past them, so its length does not tell that any were left out.
  boost::asio::awaitable<Page> page(std::string subject_hash, std::int64_t before_seq,
                                    std::size_t limit, std::int64_t now_unix_ms);

 private:
  struct Query {
    std::string subject_hash;
    std::int64_t before_seq = 0;
    std::size_t limit = 0;
    std::int64_t now_unix_ms = 0;
    std::chrono::steady_clock::time_point queued_at;
  };
  Page query(const Query& q);
  Listing visible(const Query& q);  // caller holds mu_

  Open open_;
  std::mutex mu_;  // one store connection, used by one query at a time
  std::unique_ptr<audit::AuditStore> store_;
  std::atomic<std::size_t> queued_{0};
  boost::asio::thread_pool pool_{1};
};

}  // namespace lgsp::gateway
