#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

namespace lgsp::registries::upstream {

using SteadyTime = std::chrono::steady_clock::time_point;
/// Injectable for tests; steady_clock::now in production.
using Clock = std::function<SteadyTime()>;

/// Bounds retries to a fraction of first attempts over a sliding window (Finagle's
/// RetryBudget): each first attempt deposits `ratio` of a retry, each retry spends one, and
/// `floor` retries per window are always allowed so that a quiet client can still retry.
/// Under sustained failure, retries add at most floor + ratio × first attempts per window.
/// Not thread-safe: the owner serialises calls.
class RetryBudget {
 public:
  RetryBudget(double ratio, int floor, std::chrono::milliseconds window, Clock now);
  void record_first();
  /// Whether one more retry fits the budget; if so it is counted as spent.
  bool try_retry();

 private:
  static constexpr std::size_t kSlices = 10;
  struct Slice {
    std::int64_t index = -1;  // which slice of time this bucket holds now
    std::int64_t firsts = 0;
    std::int64_t retries = 0;
  };
  Slice& current();

  double ratio_;
  int floor_;
  std::chrono::nanoseconds slice_;
  Clock now_;
  SteadyTime origin_;
  std::array<Slice, kSlices> slices_{};
};

/// A circuit breaker: closed until `failures_to_open` consecutive unhealthy outcomes, then
/// open (calls fail fast) for `open_for`, then half-open: one probe goes through while other
/// calls still fail fast; the probe's outcome closes the breaker or opens it again.
/// Not thread-safe: the owner serialises calls.
class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };
  /// What admit() allowed; hand it back to record().
  enum class Ticket { kCall, kProbe, kRefused };

  CircuitBreaker(int failures_to_open, std::chrono::milliseconds open_for, Clock now);
  Ticket admit();
  /// The outcome of an admitted call: healthy means the upstream answered as an API does.
  /// Outcomes of calls admitted before the breaker opened do not change an open breaker.
  void record(Ticket ticket, bool healthy);

  State state() const { return state_; }
  std::int64_t times_opened() const { return times_opened_; }
  /// How long an open breaker stays open from now (zero unless open).
  std::chrono::milliseconds remaining_open() const;

 private:
  void open();

  int failures_to_open_;
  std::chrono::milliseconds open_for_;
  Clock now_;
  State state_ = State::kClosed;
  int consecutive_failures_ = 0;
  SteadyTime opened_at_{};
  bool probe_in_flight_ = false;
  std::int64_t times_opened_ = 0;
};

std::string_view to_string(CircuitBreaker::State state);

}  // namespace lgsp::registries::upstream
