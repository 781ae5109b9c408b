#include "gateway/cluster_quota.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "gateway/rate_limiter.hpp"
#include "tests/support/pg_schema.hpp"
#include "tests/support/stack.hpp"

// Daily quotas shared by replicas, against the PostgreSQL test server (LGSP_TEST_PG_DSN),
// each test in a schema of its own; each ClusterQuota is one replica.

namespace lgsp::gateway {
namespace {

using Verdict = QuotaLedger::Verdict;
constexpr std::int64_t kDay = 20'000;

class ClusterQuotaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::postgres_available()) GTEST_SKIP() << "LGSP_TEST_PG_DSN not set";
    schema_ = std::make_unique<testing::TestSchema>("lgsp_quota");
  }
  std::unique_ptr<ClusterQuota> replica(const std::string& name) const {
    return std::make_unique<ClusterQuota>(schema_->dsn(), name);
  }
  /// Takes one unit at a time until refused; returns how many were taken.
  static std::int64_t drain(QuotaLedger& q, std::int64_t quota) {
    std::int64_t taken = 0;
    while (q.take("bank", quota, 1, kDay).verdict == Verdict::kTaken) ++taken;
    return taken;
  }

  std::unique_ptr<testing::TestSchema> schema_;
};

TEST_F(ClusterQuotaTest, ReplicasTogetherNeverAdmitMoreThanTheQuota) {
  constexpr std::int64_t kQuota = 10'000;  // slices of 50 (0.5 %)
  std::vector<std::unique_ptr<ClusterQuota>> replicas;
  for (const char* name : {"r1", "r2", "r3"}) replicas.push_back(replica(name));
  std::vector<std::int64_t> taken(replicas.size());
  {
    std::vector<std::jthread> threads;
    for (std::size_t i = 0; i < replicas.size(); ++i) {
      threads.emplace_back([&, i] { taken[i] = drain(*replicas[i], kQuota); });
    }
  }
  std::int64_t total = 0;
  for (const auto t : taken) {
    EXPECT_GT(t, 0) << "a replica got no share";
    total += t;
  }
  // Never over; under by at most the slices the others still hold.
  EXPECT_LE(total, kQuota);
  EXPECT_GE(total, kQuota - 2 * 50);
  // Two replicas stop and return what they hold: the last one gets exactly the rest.
  replicas.resize(1);
  total += drain(*replicas[0], kQuota);
  EXPECT_EQ(total, kQuota);
  EXPECT_EQ(replicas[0]->take("bank", kQuota, 1, kDay).verdict, Verdict::kExhausted);
  // A new day, a new quota.
  EXPECT_EQ(replicas[0]->take("bank", kQuota, 1, kDay + 1).verdict, Verdict::kTaken);
}

TEST_F(ClusterQuotaTest, ABulkTakeIsAllOrNothing) {
  const auto a = replica("a");
  const auto b = replica("b");
  ASSERT_EQ(a->take("bank", 1000, 500, kDay).verdict, Verdict::kTaken);
  const auto refused = b->take("bank", 1000, 600, kDay);
  EXPECT_EQ(refused.verdict, Verdict::kExhausted);
  EXPECT_EQ(refused.remaining, 500);
  const auto taken = b->take("bank", 1000, 500, kDay);
  EXPECT_EQ(taken.verdict, Verdict::kTaken);
  EXPECT_EQ(taken.remaining, 0);
  // Another partner's quota is its own.
  EXPECT_EQ(b->take("telecom", 1000, 1000, kDay).verdict, Verdict::kTaken);
}

TEST_F(ClusterQuotaTest, WithoutTheStoreAReplicaSpendsItsSliceThenAnswersUnavailable) {
  const auto a = replica("a");
  ASSERT_EQ(a->take("bank", 1000, 1, kDay).verdict, Verdict::kTaken);  // holds 4 more
  {
    pqxx::connection c(schema_->dsn());
    pqxx::nontransaction(c).exec("DROP TABLE quota_grants");  // what a lost store looks like
  }
  EXPECT_EQ(drain(*a, 1000), 4);
  EXPECT_EQ(a->take("bank", 1000, 1, kDay).verdict, Verdict::kUnavailable);
}

TEST_F(ClusterQuotaTest, ARateLimitedRequestGivesItsUnitBack) {
  const auto ledger = replica("a");
  RateLimiter limiter(ledger.get());
  const config::RateLimit one_per_second{1, 1};
  const auto start = std::chrono::steady_clock::now();
  const auto wall = std::chrono::system_clock::time_point(std::chrono::days(kDay));
  int allowed = 0;
  int rate_limited = 0;
  int exhausted = 0;
  // 40 requests, two per second: every other one is rate limited and costs no quota, until
  // the quota is spent (it is asked first).
  for (int i = 0; i < 40; ++i) {
    const auto now = start + std::chrono::milliseconds(500 * i);
    const auto d = limiter.admit("bank", "population.verify", one_per_second, nullptr, 12, now,
                                 wall + std::chrono::milliseconds(500 * i));
    using V = RateLimiter::Decision::Verdict;
    if (d.verdict == V::kAllowed) ++allowed;
    if (d.verdict == V::kRateLimited) ++rate_limited;
    if (d.verdict == V::kQuotaExhausted) ++exhausted;
    EXPECT_EQ(d.quota_limit, 12);
  }
  EXPECT_EQ(allowed, 12);
  EXPECT_EQ(rate_limited, 11);
  EXPECT_EQ(exhausted, 17);
  EXPECT_EQ(limiter.take_quota("bank", 12, 1, wall).verdict,
            RateLimiter::Decision::Verdict::kQuotaExhausted);
}

}  // namespace
}  // namespace lgsp::gateway
