#include "registries/backends/resilience.hpp"

#include <algorithm>

namespace lgsp::registries::upstream {

RetryBudget::RetryBudget(double ratio, int floor, std::chrono::milliseconds window, Clock now)
    : ratio_(ratio),
      floor_(floor),
      slice_(std::max(std::chrono::nanoseconds(window) / static_cast<std::int64_t>(kSlices),
                      std::chrono::nanoseconds(1))),
      now_(std::move(now)),
      origin_(now_()) {}

RetryBudget::Slice& RetryBudget::current() {
  const std::int64_t index = (now_() - origin_) / slice_;
  Slice& s = slices_.at(static_cast<std::size_t>(index) % kSlices);
  if (s.index != index) s = Slice{index, 0, 0};
  return s;
}

void RetryBudget::record_first() { ++current().firsts; }

bool RetryBudget::try_retry() {
  Slice& now = current();
  std::int64_t firsts = 0;
  std::int64_t retries = 0;
  // A bucket counts while its slice is one of the last kSlices; older ones are stale.
  for (const Slice& s : slices_) {
    if (s.index >= 0 && s.index > now.index - static_cast<std::int64_t>(kSlices)) {
      firsts += s.firsts;
      retries += s.retries;
    }
  }
  if (static_cast<double>(retries + 1) > floor_ + ratio_ * static_cast<double>(firsts)) {
    return false;
  }
  ++now.retries;
  return true;
}

CircuitBreaker::CircuitBreaker(int failures_to_open, std::chrono::milliseconds open_for, Clock now)
    : failures_to_open_(failures_to_open), open_for_(open_for), now_(std::move(now)) {}

CircuitBreaker::Ticket CircuitBreaker::admit() {
  switch (state_) {
    case State::kClosed:
      return Ticket::kCall;
    case State::kOpen:
      if (now_() - opened_at_ < open_for_) return Ticket::kRefused;
      state_ = State::kHalfOpen;
      probe_in_flight_ = true;
      return Ticket::kProbe;
    case State::kHalfOpen:
      // Half-open lets one probe through; the others wait for its verdict by failing fast.
      if (probe_in_flight_) return Ticket::kRefused;
      probe_in_flight_ = true;
      return Ticket::kProbe;
  }
  return Ticket::kRefused;
}

void CircuitBreaker::record(Ticket ticket, bool healthy) {
  if (ticket == Ticket::kProbe) {
    probe_in_flight_ = false;
    if (healthy) {
      state_ = State::kClosed;
      consecutive_failures_ = 0;
    } else {
      open();
    }
    return;
  }
  if (ticket != Ticket::kCall || state_ != State::kClosed) return;
  if (healthy) {
    consecutive_failures_ = 0;
  } else if (++consecutive_failures_ >= failures_to_open_) {
    open();
  }
}

void CircuitBreaker::open() {
  state_ = State::kOpen;
  opened_at_ = now_();
  consecutive_failures_ = 0;
  ++times_opened_;
}

std::chrono::milliseconds CircuitBreaker::remaining_open() const {
  if (state_ != State::kOpen) return std::chrono::milliseconds(0);
  const auto left = open_for_ - (now_() - opened_at_);
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(left));
}

std::string_view to_string(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::kClosed:
      return "closed";
    case CircuitBreaker::State::kOpen:
      return "open";
    case CircuitBreaker::State::kHalfOpen:
      return "half_open";
  }
  return "unknown";
}

}  // namespace lgsp::registries::upstream
