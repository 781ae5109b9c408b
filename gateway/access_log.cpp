#include "gateway/access_log.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "observability/log.hpp"

namespace lgsp::gateway {

namespace asio = boost::asio;

AccessLogReader::AccessLogReader(Open open, bool required) : open_(std::move(open)) {
  try {
    store_ = open_();
  } catch (const std::exception& e) {
    if (required) throw;
    // Not fatal: the writer may not have created the chain yet; the first query tries again.
    obs::warn("access_log_store_unavailable", {{"error", e.what()}});
  }
}

AccessLogReader::~AccessLogReader() { pool_.join(); }

AccessLogReader::Listing AccessLogReader::visible(const Query& q) {
  Listing out;
  std::int64_t before = q.before_seq;
  for (int round = 0; round < kMaxRounds; ++round) {
    auto rows = store_->by_subject(q.subject_hash, before, q.limit);
    for (auto& r : rows) {
      before = r.seq;
      if (r.withheld_until_ms > q.now_unix_ms) continue;
      out.records.push_back(std::move(r));
      if (out.records.size() == q.limit) {
        out.next_before = before;
        return out;
      }
    }
    if (rows.size() < q.limit) return out;  // the start of the log
  }
  out.next_before = before;  // every round stepped over withheld records: go on from here
  return out;
}

AccessLogReader::Page AccessLogReader::query(const Query& q) {
  --queued_;
  if (std::chrono::steady_clock::now() - q.queued_at > kMaxWait)
    return Unavailable{"waited too long for the audit store", true};
  std::lock_guard lock(mu_);
  try {
    if (!store_) store_ = open_();
    return visible(q);
  } catch (const std::exception& e) {
    return Unavailable{e.what(), false};
  }
}

asio::awaitable<AccessLogReader::Page> AccessLogReader::page(std::string subject_hash,
                                                             std::int64_t before_seq,
                                                             std::size_t limit,
                                                             std::int64_t now_unix_ms) {
  // A plain callback hop (pool thread, then back to the caller's executor) rather than a
  // nested coroutine: the result travels as a value, never as an exception across co_await.
  // Bounded: a flood of access-log reads (or a slow store) refuses new ones at once instead
  // of queueing them behind each other without end.
  if (queued_.fetch_add(1) >= kMaxQueued) {
    --queued_;
    co_return Unavailable{"too many access-log queries waiting", true};
  }
  Query q{std::move(subject_hash), before_seq, limit, now_unix_ms,
          std::chrono::steady_clock::now()};
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(Page)>(
      [this](auto handler, Query asked) {
        asio::post(pool_, [this, asked = std::move(asked), handler = std::move(handler)]() mutable {
          Page result = query(asked);
          auto executor = asio::get_associated_executor(handler);
          asio::post(executor,
                     [handler = std::move(handler), result = std::move(result)]() mutable {
                       std::move(handler)(std::move(result));
                     });
        });
      },
      asio::use_awaitable, std::move(q));
}

}  // namespace lgsp::gateway
