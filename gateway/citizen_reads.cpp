#include "gateway/citizen_reads.hpp"

#include <algorithm>
#include <charconv>

namespace lgsp::gateway {

namespace {

constexpr std::int64_t kSecondsPerDay = 86400;

std::int64_t unix_seconds(std::chrono::system_clock::time_point now) {
  return std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
}

std::uint64_t key_of(std::string_view hash) {
  std::uint64_t key = 0;
  const std::string_view prefix = hash.substr(0, 16);
  std::from_chars(prefix.data(), prefix.data() + prefix.size(), key, 16);
  return key;
}

}  // namespace

CitizenReads::CitizenReads(std::int64_t daily_limit, std::size_t max_citizens)
    : limit_(daily_limit), max_citizens_(max_citizens) {}

CitizenReads::Verdict CitizenReads::take(std::string_view subject_hash,
                                         std::chrono::system_clock::time_point now) {
  const std::int64_t today = unix_seconds(now) / kSecondsPerDay;
  std::lock_guard lock(mu_);
  if (today != day_) {
    day_ = today;
    reads_.clear();
  }
  const auto key = key_of(subject_hash);
  auto it = reads_.find(key);
  if (it == reads_.end()) {
    if (reads_.size() >= max_citizens_) return Verdict::kFull;
    it = reads_.emplace(key, 0).first;
  }
  if (it->second >= limit_) return Verdict::kExhausted;
  ++it->second;
  return Verdict::kAllowed;
}

std::int64_t CitizenReads::seconds_to_midnight(std::chrono::system_clock::time_point now) {
  return std::max<std::int64_t>(1, kSecondsPerDay - unix_seconds(now) % kSecondsPerDay);
}

}  // namespace lgsp::gateway
