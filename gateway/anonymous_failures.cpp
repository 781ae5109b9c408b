#include "gateway/anonymous_failures.hpp"

namespace lgsp::gateway {

AnonymousFailures::AnonymousFailures(Options options)
    : options_(options),
      limit_{static_cast<double>(options.per_second), static_cast<double>(options.per_second * 5)},
      last_aggregate_(Clock::now()) {}

bool AnonymousFailures::admit(const std::string& address, Clock::time_point now,
                              std::chrono::milliseconds& retry_after) {
  if (options_.per_second <= 0) return true;
  std::lock_guard lock(mu_);
  auto it = addresses_.find(address);
  if (it == addresses_.end()) {
    if (addresses_.size() >= options_.max_addresses) {
      // Keep what is owed to the trail; start the budgets afresh.
      for (auto a = addresses_.begin(); a != addresses_.end();) {
        a = a->second.over > 0 ? std::next(a) : addresses_.erase(a);
      }
    }
    it = addresses_.try_emplace(address).first;
  }
  if (it->second.bucket.take(limit_, now, retry_after)) return true;
  ++it->second.over;
  return false;
}

std::vector<std::pair<std::string, std::int64_t>> AnonymousFailures::take_aggregates(
    Clock::time_point now, bool all) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  std::lock_guard lock(mu_);
  if (!all && now - last_aggregate_ < options_.aggregate_every) return out;
  last_aggregate_ = now;
  for (auto& [address, a] : addresses_) {
    if (a.over == 0) continue;
    out.emplace_back(address, a.over);
    a.over = 0;
  }
  return out;
}

}  // namespace lgsp::gateway
