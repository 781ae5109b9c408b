#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "gateway/cluster_quota.hpp"

namespace lgsp::gateway {

/// A token bucket: `rate` tokens a second, holding at most `burst`. Not thread-safe (the
/// limiter locks around it).
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  /// Takes one token if there is one; otherwise says how long until there will be.
  bool take(const config::RateLimit& limit, Clock::time_point now,
            std::chrono::milliseconds& retry_after);

 private:
  double tokens_ = -1;  // < 0: not used yet (starts full)
  Clock::time_point last_{};
};

/// Per-partner rate limits (partner-wide and per operation) and daily quotas. State lives
/// here, keyed by partner id, so a config reload changes the limits without resetting what
/// was used today. Daily quotas are counted here (exact for one process), or, given a
/// ledger, by the replicas together (ClusterQuota). Thread-safe: every gateway thread admits
/// through the one instance.
class RateLimiter {
 public:
  /// `ledger`: daily quotas counted with the other replicas (null: by this process).
  /// `replicas`: how many replicas share the partners' rate limits (null: this one alone);
  /// each then admits its share, the configured rate and burst divided by that number.
  explicit RateLimiter(QuotaLedger* ledger = nullptr, const std::atomic<int>* replicas = nullptr)
      : ledger_(ledger), replicas_(replicas) {}

  struct Decision {
    /// kQuotaUnavailable: the shared quota ledger could not be asked.
    enum class Verdict {
      kAllowed,
      kRateLimited,
      kQuotaExhausted,
      kQuotaUnavailable
    } verdict = Verdict::kAllowed;
    std::chrono::milliseconds retry_after{0};
    std::int64_t quota_limit = 0;  // 0 = no quota
    std::int64_t quota_remaining = 0;
    bool allowed() const { return verdict == Verdict::kAllowed; }
  };

  /// `operation` is "registry.operation". Rate limits are checked before the quota, and a
  /// refused request consumes neither.
  Decision admit(const std::string& partner_id, const std::string& operation,
                 const config::RateLimit& partner_limit, const config::RateLimit* operation_limit,
                 std::int64_t daily_quota, TokenBucket::Clock::time_point now,
                 std::chrono::system_clock::time_point wall_now);

  /// Takes `units` (> 0) of the partner's daily quota at once, or nothing when fewer are
  /// left (kQuotaExhausted): the records of a bulk job count like requests. No rate limit.
  Decision take_quota(const std::string& partner_id, std::int64_t daily_quota, std::int64_t units,
                      std::chrono::system_clock::time_point wall_now);

  /// A partner's daily quota and what it has used of it today (UTC), for the metrics.
  struct QuotaUse {
    std::string partner_id;
    std::int64_t limit = 0;
    std::int64_t used = 0;
  };
  /// Partners with a quota that have made a request since the process started; the limit
  /// is the one their latest request was admitted under.
  std::vector<QuotaUse> quota_use(std::chrono::system_clock::time_point wall_now);

 private:
  struct State {
    std::mutex mu;
    TokenBucket partner;
    std::map<std::string, TokenBucket, std::less<>> operations;
    std::int64_t day = -1;   // days since the epoch (UTC) the count belongs to
    std::int64_t used = 0;   // by this process (with a ledger: its share of the cluster's)
    std::int64_t limit = 0;  // the daily quota of the latest admit()
  };
  State& state(const std::string& partner_id);
  /// Today's count of `s` (reset at 00:00 UTC); fills the quota part of `d` (without a
  /// ledger). Caller holds s.mu. Returns today's number (days since the epoch).
  std::int64_t today(State& s, std::int64_t daily_quota,
                     std::chrono::system_clock::time_point wall_now, Decision& d) const;
  /// `units` from the ledger into `d` (caller holds the partner's mutex); false if refused.
  bool take_from_ledger(const std::string& partner_id, std::int64_t daily_quota, std::int64_t units,
                        std::int64_t day, std::chrono::system_clock::time_point wall_now,
                        Decision& d);
  /// The partner's buckets (operation, then partner-wide) each give a token, or `d` says
  /// how long to wait.
  bool take_tokens(State& s, const std::string& operation, const config::RateLimit& partner_limit,
                   const config::RateLimit* operation_limit, TokenBucket::Clock::time_point now,
                   Decision& d) const;
  /// This replica's share of a configured limit.
  config::RateLimit share(const config::RateLimit& limit) const;

  QuotaLedger* ledger_;
  const std::atomic<int>* replicas_;
  std::shared_mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<State>> states_;
};

}  // namespace lgsp::gateway
