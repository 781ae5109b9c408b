#pragma once

#include <chrono>
#include <cstdint>

namespace lgsp::util {

/// Wall-clock milliseconds since the Unix epoch: the timestamps of envelopes, replies, audit
/// events and bulk jobs. (Deadlines and durations use std::chrono::steady_clock.)
inline std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Seconds elapsed since `start` on the steady clock: request and call durations for metrics.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace lgsp::util
