#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "gateway/rate_limiter.hpp"

namespace lgsp::gateway {

/// Budgets failures before a partner is known (401, 404, 405, refused up front) per client
/// address. Each such failure is normally one audit event; a client that fails faster than
/// `per_second` (burst five seconds' worth) is answered 429 `too-many-failures` instead, and
/// its failures beyond the budget are recorded as one aggregate audit event per address
/// every `aggregate_every`, so a flood of unauthenticated requests cannot fill the audit
/// queue and turn every partner's answer into 503.
///
/// Bounded: at most `max_addresses` addresses are tracked; when full the budgets start
/// afresh (a flood from many addresses costs its own failures, not more memory).
/// Thread-safe.
class AnonymousFailures {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::int64_t per_second = 10;  // 0 = no budget (every failure is its own event)
    std::chrono::seconds aggregate_every{10};
    std::size_t max_addresses = 100'000;
  };
  explicit AnonymousFailures(Options options);

  /// One failure from `address`: true within the budget; false when over it (it is then
  /// counted for the next aggregate, and `retry_after` says when the budget has room).
  bool admit(const std::string& address, Clock::time_point now,
             std::chrono::milliseconds& retry_after);
  /// The over-budget counts by address once `aggregate_every` has passed since the last
  /// time (then reset), or with `all` whatever the time (at stop); else nothing.
  std::vector<std::pair<std::string, std::int64_t>> take_aggregates(Clock::time_point now,
                                                                    bool all = false);

 private:
  struct Address {
    TokenBucket bucket;
    std::int64_t over = 0;
  };
  Options options_;
  config::RateLimit limit_;
  std::mutex mu_;
  std::unordered_map<std::string, Address> addresses_;  // guarded by mu_
  Clock::time_point last_aggregate_;                    // guarded by mu_
};

}  // namespace lgsp::gateway
