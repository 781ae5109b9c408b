#include "gateway/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace lgsp::gateway {
namespace {

using namespace std::chrono_literals;
using Verdict = RateLimiter::Decision::Verdict;

const auto kT0 = TokenBucket::Clock::time_point(100s);
// 2026-11-24 10:00 UTC
const auto kWall = std::chrono::system_clock::time_point(
                       std::chrono::sys_days(std::chrono::year(2026) / 11 / 24)) +
                   10h;

TEST(RateLimiter, BurstThenRefusedWithRetryAfter) {
  RateLimiter limiter;
  const config::RateLimit limit{10, 3};
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter.admit("p", "population.verify", limit, nullptr, 0, kT0, kWall).allowed());
  }
  const auto d = limiter.admit("p", "population.verify", limit, nullptr, 0, kT0, kWall);
  EXPECT_EQ(d.verdict, Verdict::kRateLimited);
  EXPECT_EQ(d.retry_after, 100ms);  // one token at 10/s
}

TEST(RateLimiter, TokensRefillWithTime) {
  RateLimiter limiter;
  const config::RateLimit limit{10, 1};
  EXPECT_TRUE(limiter.admit("p", "op", limit, nullptr, 0, kT0, kWall).allowed());
  EXPECT_FALSE(limiter.admit("p", "op", limit, nullptr, 0, kT0 + 50ms, kWall).allowed());
  EXPECT_TRUE(limiter.admit("p", "op", limit, nullptr, 0, kT0 + 150ms, kWall).allowed());
}

TEST(RateLimiter, PartnersHaveSeparateBuckets) {
  RateLimiter limiter;
  const config::RateLimit limit{1, 1};
  EXPECT_TRUE(limiter.admit("a", "op", limit, nullptr, 0, kT0, kWall).allowed());
  EXPECT_TRUE(limiter.admit("b", "op", limit, nullptr, 0, kT0, kWall).allowed());
  EXPECT_FALSE(limiter.admit("a", "op", limit, nullptr, 0, kT0, kWall).allowed());
}

TEST(RateLimiter, EachOfSeveralReplicasAdmitsItsShare) {
  std::atomic<int> replicas{4};
  RateLimiter limiter(nullptr, &replicas);
  const config::RateLimit limit{40, 8};  // a quarter each: 10/s, burst 2
  const config::RateLimit narrow{2, 2};  // a quarter of 2/s: 0.5/s, burst at least 1
  int admitted = 0;
  for (int i = 0; i < 10; ++i) {
    admitted += limiter.admit("p", "op", limit, nullptr, 0, kT0, kWall).allowed() ? 1 : 0;
  }
  EXPECT_EQ(admitted, 2);
  const auto d = limiter.admit("p", "op", limit, nullptr, 0, kT0, kWall);
  EXPECT_EQ(d.retry_after, 100ms);  // one token at 10/s
  EXPECT_TRUE(limiter.admit("q", "narrow", limit, &narrow, 0, kT0, kWall).allowed());
  EXPECT_FALSE(limiter.admit("q", "narrow", limit, &narrow, 0, kT0 + 1s, kWall).allowed());
  EXPECT_TRUE(limiter.admit("q", "narrow", limit, &narrow, 0, kT0 + 2s, kWall).allowed());
  // One replica left: the whole limit again.
  replicas = 1;
  admitted = 0;
  for (int i = 0; i < 10; ++i) {
    admitted += limiter.admit("r", "op", limit, nullptr, 0, kT0, kWall).allowed() ? 1 : 0;
  }
  EXPECT_EQ(admitted, 8);
}

TEST(RateLimiter, OperationLimitIsNarrowerThanThePartnerWide) {
  RateLimiter limiter;
  const config::RateLimit wide{100, 100};
  const config::RateLimit narrow{1, 1};
  EXPECT_TRUE(limiter.admit("p", "population.lookup", wide, &narrow, 0, kT0, kWall).allowed());
  EXPECT_FALSE(limiter.admit("p", "population.lookup", wide, &narrow, 0, kT0, kWall).allowed());
  // Other operations only meet the partner-wide limit.
  EXPECT_TRUE(limiter.admit("p", "population.verify", wide, nullptr, 0, kT0, kWall).allowed());
}

TEST(RateLimiter, QuotaCountsDownThenRefusesUntilTheNextUtcDay) {
  RateLimiter limiter;
  const config::RateLimit none{};
  auto d = limiter.admit("p", "op", none, nullptr, 2, kT0, kWall);
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.quota_limit, 2);
  EXPECT_EQ(d.quota_remaining, 1);
  d = limiter.admit("p", "op", none, nullptr, 2, kT0, kWall);
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.quota_remaining, 0);
  d = limiter.admit("p", "op", none, nullptr, 2, kT0, kWall);
  EXPECT_EQ(d.verdict, Verdict::kQuotaExhausted);
  EXPECT_EQ(d.retry_after, std::chrono::milliseconds(14h));  // until 00:00 UTC
  EXPECT_TRUE(limiter.admit("p", "op", none, nullptr, 2, kT0, kWall + 14h).allowed());
}

TEST(RateLimiter, RateRefusalDoesNotSpendQuota) {
  RateLimiter limiter;
  const config::RateLimit limit{1, 1};
  EXPECT_TRUE(limiter.admit("p", "op", limit, nullptr, 5, kT0, kWall).allowed());
  EXPECT_FALSE(limiter.admit("p", "op", limit, nullptr, 5, kT0, kWall).allowed());
  const auto d = limiter.admit("p", "op", limit, nullptr, 5, kT0 + 2s, kWall);
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.quota_remaining, 3);
}

TEST(RateLimiter, QuotaUseReportsTodaysCountAndResetsNextDay) {
  RateLimiter limiter;
  const config::RateLimit none{};
  EXPECT_TRUE(limiter.admit("quota", "op", none, nullptr, 5, kT0, kWall).allowed());
  EXPECT_TRUE(limiter.admit("quota", "op", none, nullptr, 5, kT0, kWall).allowed());
  // A partner with a rate limit but no quota is not reported.
  EXPECT_TRUE(limiter.admit("rate-only", "op", config::RateLimit{10, 10}, nullptr, 0, kT0, kWall)
                  .allowed());
  auto use = limiter.quota_use(kWall);
  ASSERT_EQ(use.size(), 1U);
  EXPECT_EQ(use[0].partner_id, "quota");
  EXPECT_EQ(use[0].limit, 5);
  EXPECT_EQ(use[0].used, 2);
  use = limiter.quota_use(kWall + std::chrono::hours(24));
  ASSERT_EQ(use.size(), 1U);
  EXPECT_EQ(use[0].used, 0);
}

TEST(RateLimiter, LimitHoldsAcrossThreads) {
  RateLimiter limiter;
  const config::RateLimit limit{1, 100};  // 100 at once, then 1/s: the test takes < 1 s
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (limiter.admit("p", "op", limit, nullptr, 0, kT0, kWall).allowed()) ++allowed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 100);
}

}  // namespace
}  // namespace lgsp::gateway
