#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace lgsp::gateway {

/// Where partners' daily quotas are counted when several gateway replicas share them. The
/// RateLimiter asks it instead of its own per-process count.
class QuotaLedger {
 public:
  enum class Verdict { kTaken, kExhausted, kUnavailable };
  struct Take {
    Verdict verdict = Verdict::kTaken;
    /// What is left of the quota cluster-wide, as far as this replica knows (the slices
    /// other replicas hold unused count as used).
    std::int64_t remaining = 0;
  };
  virtual ~QuotaLedger() = default;
  /// Takes `units` of `partner_id`'s quota of `quota` for `day` (days since the epoch, UTC),
  /// or nothing.
  virtual Take take(const std::string& partner_id, std::int64_t quota, std::int64_t units,
                    std::int64_t day) = 0;
  /// Gives back units taken a moment ago but not used (the rate limit then refused).
  virtual void give_back(const std::string& partner_id, std::int64_t units, std::int64_t day) = 0;
};

/// Daily quotas shared by the replicas through the cluster's PostgreSQL store: each replica
/// leases slices of a partner's quota (table quota_grants, one row per partner, day and
/// replica) and admits from its slice without a database round trip; only when the slice
/// runs out does it ask for the next, in a transaction serialised per partner, so the slices
/// granted never add up to more than the quota: the replicas together never over-admit.
/// The price is under-admission: at most the unused slices the other replicas hold, each
/// `slice_fraction` of the quota (0.5 %), and those a replica returns when it stops.
///
/// When the store cannot be reached, a replica admits from the slice it holds, then answers
/// kUnavailable (the gateway: 503) rather than guess, and asks the store again after a pause
/// of 5 s. Thread-safe; the store round trip happens on the caller's thread, once a slice.
class ClusterQuota final : public QuotaLedger {
 public:
  ClusterQuota(std::string dsn, std::string owner, double slice_fraction = 0.005);
  /// Returns today's unused slices to the store (best effort).
  ~ClusterQuota() override;
  ClusterQuota(const ClusterQuota&) = delete;
  ClusterQuota& operator=(const ClusterQuota&) = delete;

  Take take(const std::string& partner_id, std::int64_t quota, std::int64_t units,
            std::int64_t day) override;
  void give_back(const std::string& partner_id, std::int64_t units, std::int64_t day) override;

 private:
  struct Partner {
    std::int64_t day = -1;
    std::int64_t allowance = 0;        // granted to this replica and not yet used
    std::int64_t cluster_granted = 0;  // all replicas' grants, as of the last grant
    std::chrono::steady_clock::time_point exhausted_until{};
  };
  struct Connection;
  /// One grant transaction: up to `want` units, none unless at least `need`. Returns the
  /// units granted and sets `cluster_granted`. Throws when the store fails.
  std::int64_t grant(const std::string& partner_id, std::int64_t day, std::int64_t quota,
                     std::int64_t want, std::int64_t need, std::int64_t& cluster_granted);
  Connection& connection();

  const std::string dsn_;
  const std::string owner_;
  const double slice_fraction_;
  std::mutex mu_;  // guards everything below
  std::unique_ptr<Connection> conn_;
  std::map<std::string, Partner, std::less<>> partners_;
  std::chrono::steady_clock::time_point store_retry_at_{};
};

}  // namespace lgsp::gateway
