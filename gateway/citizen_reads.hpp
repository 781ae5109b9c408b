#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace lgsp::gateway {

/// Counts each citizen's access-log reads per UTC day, whichever partner reads: a citizen's
/// token replayed, or a citizen app gone wrong, cannot read one citizen's log without bound.
/// Memory is bounded: at most `max_citizens` citizens a day are counted; a further citizen
/// is refused for the rest of the day (kFull) rather than counts being forgotten. Counts are
/// per gateway process. Thread-safe.
class CitizenReads {
 public:
  CitizenReads(std::int64_t daily_limit, std::size_t max_citizens = 1'000'000);

  enum class Verdict { kAllowed, kExhausted, kFull };
  /// Takes one read of the citizen whose keyed hash (lower-case hex) is `subject_hash`.
  Verdict take(std::string_view subject_hash, std::chrono::system_clock::time_point now);
  std::int64_t daily_limit() const { return limit_; }

  /// Whole seconds from `now` until the next 00:00 UTC (at least 1): when counts reset.
  static std::int64_t seconds_to_midnight(std::chrono::system_clock::time_point now);

 private:
  const std::int64_t limit_;
  const std::size_t max_citizens_;
  std::mutex mu_;
  std::int64_t day_ = -1;  // days since the epoch (UTC) the counts belong to
  /// Keyed on the hash's first 64 bits: the hash is keyed, so a partner cannot aim collisions.
  std::unordered_map<std::uint64_t, std::int64_t> reads_;
};

}  // namespace lgsp::gateway
