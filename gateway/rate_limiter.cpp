#include "gateway/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace lgsp::gateway {

bool TokenBucket::take(const config::RateLimit& limit, Clock::time_point now,
                       std::chrono::milliseconds& retry_after) {
  if (limit.requests_per_second <= 0) return true;
  const double burst = limit.burst > 0 ? limit.burst : limit.requests_per_second;
  if (tokens_ < 0) {
    tokens_ = burst;
  } else {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst, tokens_ + std::max(0.0, elapsed) * limit.requests_per_second);
  }
  last_ = now;
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return true;
  }
  const double wait_s = (1.0 - tokens_) / limit.requests_per_second;
  retry_after = std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(wait_s * 1000)));
  return false;
}

RateLimiter::State& RateLimiter::state(const std::string& partner_id) {
  {
    std::shared_lock lock(mu_);
    if (const auto it = states_.find(partner_id); it != states_.end()) return *it->second;
  }
  std::unique_lock lock(mu_);
  auto& slot = states_[partner_id];
  if (!slot) slot = std::make_unique<State>();
  return *slot;
}

RateLimiter::Decision RateLimiter::admit(const std::string& partner_id,
                                         const std::string& operation,
                                         const config::RateLimit& partner_limit,
                                         const config::RateLimit* operation_limit,
                                         std::int64_t daily_quota,
                                         TokenBucket::Clock::time_point now,
                                         std::chrono::system_clock::time_point wall_now) {
  Decision d;
  if (partner_limit.requests_per_second <= 0 && operation_limit == nullptr && daily_quota <= 0)
    return d;
  State& s = state(partner_id);
  std::lock_guard lock(s.mu);
  const std::int64_t day = today(s, daily_quota, wall_now, d);
  if (!d.allowed()) return d;
  // From the shared ledger first, given back if a rate limit refuses: a refused request
  // consumes neither.
  const bool shared = ledger_ != nullptr && daily_quota > 0;
  if (shared && !take_from_ledger(partner_id, daily_quota, 1, day, wall_now, d)) return d;
  if (!take_tokens(s, operation, partner_limit, operation_limit, now, d)) {
    if (shared) ledger_->give_back(partner_id, 1, day);
    return d;
  }
  if (daily_quota > 0) {
    ++s.used;
    if (!shared) d.quota_remaining = daily_quota - s.used;
  }
  return d;
}

config::RateLimit RateLimiter::share(const config::RateLimit& limit) const {
  const int n = replicas_ == nullptr ? 1 : replicas_->load(std::memory_order_relaxed);
  if (n <= 1 || limit.requests_per_second <= 0) return limit;
  const double burst = limit.burst > 0 ? limit.burst : limit.requests_per_second;
  // At least one token of burst, or a share below one request a second would admit none.
  return {limit.requests_per_second / n, std::max(1.0, burst / n)};
}

bool RateLimiter::take_tokens(State& s, const std::string& operation,
                              const config::RateLimit& partner_limit,
                              const config::RateLimit* operation_limit,
                              TokenBucket::Clock::time_point now, Decision& d) const {
  // The narrower (operation) bucket first: when the partner-wide bucket then refuses, one
  // token of the operation's is spent for nothing, which only errs on the strict side.
  std::chrono::milliseconds wait{0};
  if (operation_limit != nullptr &&
      !s.operations[operation].take(share(*operation_limit), now, wait)) {
    d.verdict = Decision::Verdict::kRateLimited;
    d.retry_after = wait;
    return false;
  }
  if (!s.partner.take(share(partner_limit), now, wait)) {
    d.verdict = Decision::Verdict::kRateLimited;
    d.retry_after = wait;
    return false;
  }
  return true;
}

namespace {
std::chrono::milliseconds until_tomorrow(std::int64_t day,
                                         std::chrono::system_clock::time_point wall_now) {
  const auto next_day = std::chrono::system_clock::time_point(std::chrono::days(day + 1));
  return std::chrono::duration_cast<std::chrono::milliseconds>(next_day - wall_now);
}
}  // namespace

std::int64_t RateLimiter::today(State& s, std::int64_t daily_quota,
                                std::chrono::system_clock::time_point wall_now, Decision& d) const {
  const auto since_epoch = wall_now.time_since_epoch();
  const std::int64_t day = std::chrono::duration_cast<std::chrono::days>(since_epoch).count();
  if (day != s.day) {
    s.day = day;
    s.used = 0;
  }
  s.limit = daily_quota;
  d.quota_limit = daily_quota;
  if (ledger_ != nullptr) return day;  // the ledger knows what is left
  d.quota_remaining = daily_quota > 0 ? std::max<std::int64_t>(0, daily_quota - s.used) : 0;
  if (daily_quota > 0 && s.used >= daily_quota) {
    d.verdict = Decision::Verdict::kQuotaExhausted;
    d.retry_after = until_tomorrow(day, wall_now);
  }
  return day;
}

RateLimiter::Decision RateLimiter::take_quota(const std::string& partner_id,
                                              std::int64_t daily_quota, std::int64_t units,
                                              std::chrono::system_clock::time_point wall_now) {
  Decision d;
  if (daily_quota <= 0) return d;
  State& s = state(partner_id);
  std::lock_guard lock(s.mu);
  const std::int64_t day = today(s, daily_quota, wall_now, d);
  if (ledger_ != nullptr) {
    d.verdict = Decision::Verdict::kAllowed;
    if (!take_from_ledger(partner_id, daily_quota, units, day, wall_now, d)) return d;
    s.used += units;
    return d;
  }
  if (s.used + units > daily_quota) {
    d.verdict = Decision::Verdict::kQuotaExhausted;
    d.retry_after = until_tomorrow(day, wall_now);
    return d;
  }
  s.used += units;
  d.quota_remaining = daily_quota - s.used;
  return d;
}

bool RateLimiter::take_from_ledger(const std::string& partner_id, std::int64_t daily_quota,
                                   std::int64_t units, std::int64_t day,
                                   std::chrono::system_clock::time_point wall_now, Decision& d) {
  const auto took = ledger_->take(partner_id, daily_quota, units, day);
  d.quota_remaining = took.remaining;
  switch (took.verdict) {
    case QuotaLedger::Verdict::kTaken:
      return true;
    case QuotaLedger::Verdict::kExhausted:
      d.verdict = Decision::Verdict::kQuotaExhausted;
      d.retry_after = until_tomorrow(day, wall_now);
      return false;
    case QuotaLedger::Verdict::kUnavailable:
      d.verdict = Decision::Verdict::kQuotaUnavailable;
      d.retry_after = std::chrono::seconds(5);
      return false;
  }
  return false;
}

std::vector<RateLimiter::QuotaUse> RateLimiter::quota_use(
    std::chrono::system_clock::time_point wall_now) {
  const std::int64_t today =
      std::chrono::duration_cast<std::chrono::days>(wall_now.time_since_epoch()).count();
  std::vector<QuotaUse> out;
  std::shared_lock lock(mu_);
  for (const auto& [id, state] : states_) {
    std::lock_guard state_lock(state->mu);
    if (state->limit <= 0) continue;
    out.push_back({id, state->limit, state->day == today ? state->used : 0});
  }
  return out;
}

}  // namespace lgsp::gateway
