#include "gateway/access_log.hpp"

#include "observability/log.hpp"
#include "util/on_pool.hpp"

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
  // Bounded: a flood of access-log reads (or a slow store) refuses new ones at once instead
  // of queueing them behind each other without end. query() reports store errors as
  // Unavailable: nothing is thrown across the hop.
  if (queued_.fetch_add(1) >= kMaxQueued) {
    --queued_;
    co_return Unavailable{"too many access-log queries waiting", true};
  }
  // Named, not temporaries in the co_await expression: GCC 12 destroys those twice when the
  // coroutine suspends, and the lambda owns the query's strings.
  auto work = [this, q = Query{std::move(subject_hash), before_seq, limit, now_unix_ms,
                               std::chrono::steady_clock::now()}] { return query(q); };
  auto hop = util::on_pool<Page>(pool_, std::move(work));
  co_return co_await std::move(hop);
}

}  // namespace lgsp::gateway
