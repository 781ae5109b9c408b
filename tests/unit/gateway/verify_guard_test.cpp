#include "gateway/verify_guard.hpp"

#include <gtest/gtest.h>

namespace lgsp::gateway {
namespace {

using namespace std::chrono_literals;
using Clock = VerifyGuard::Clock;
using Told = VerifyGuard::Told;

/// Attempts claims `c` of `k` and settles it as `told` when charged; the wait (0 = asked).
std::chrono::seconds ask(VerifyGuard& g, VerifyGuard::Key k, VerifyGuard::Claims c,
                         Clock::time_point at, Told told = Told::kMismatch) {
  const auto a = g.attempt(k, c, at);
  if (a.charged) g.settle({k, c}, told);
  return a.wait;
}

TEST(VerifyGuard, RefusesAfterTheLimitOfDistinctFailuresUntilTheyAgeOut) {
  VerifyGuard guard({.limit = 3, .window = 60s});
  const auto t0 = Clock::now();
  const auto k = guard.key("bank", "population", "citizen_id:001099012345");
  for (VerifyGuard::Claims c = 1; c <= 3; ++c) EXPECT_EQ(ask(guard, k, c, t0).count(), 0) << c;
  const auto wait = ask(guard, k, 4, t0 + 1s);
  EXPECT_GT(wait.count(), 0);
  EXPECT_LE(wait, 120s);
  // Other subjects, registries and partners are not affected.
  EXPECT_EQ(ask(guard, guard.key("bank", "population", "citizen_id:001099012346"), 4, t0).count(),
            0);
  EXPECT_EQ(ask(guard, guard.key("bank", "vehicle", "citizen_id:001099012345"), 4, t0).count(), 0);
  EXPECT_EQ(
      ask(guard, guard.key("telecom", "population", "citizen_id:001099012345"), 4, t0).count(), 0);
  // Still refused after one window (the failures moved to the previous generation)...
  EXPECT_GT(ask(guard, k, 4, t0 + 61s).count(), 0);
  // ...and allowed once they are two windows old.
  EXPECT_EQ(ask(guard, k, 4, t0 + 125s).count(), 0);
}

TEST(VerifyGuard, RepeatingAFailedClaimTellsNothingNewAndIsNotCounted) {
  VerifyGuard guard({.limit = 2, .window = 60s});
  const auto t0 = Clock::now();
  const auto k = guard.key("bank", "population", "s");
  for (int i = 0; i < 10; ++i) ASSERT_EQ(ask(guard, k, 7, t0).count(), 0) << i;
  EXPECT_EQ(ask(guard, k, 8, t0).count(), 0);
  EXPECT_GT(ask(guard, k, 9, t0).count(), 0);
  EXPECT_EQ(ask(guard, k, 7, t0).count(), 0) << "an old failed claim is still answered";
}

TEST(VerifyGuard, MatchesAndUnansweredAttemptsAreRefunded) {
  VerifyGuard guard({.limit = 2, .window = 60s});
  const auto t0 = Clock::now();
  const auto k = guard.key("bank", "population", "s");
  for (VerifyGuard::Claims c = 1; c <= 10; ++c)
    ASSERT_EQ(ask(guard, k, c, t0, Told::kNothing).count(), 0) << c;
  {
    const auto a = guard.attempt(k, 20, t0);
    ASSERT_TRUE(a.charged);
    VerifyCharge charge(guard, {k, 20});
    charge.told(Told::kMismatch);
  }
  {
    ASSERT_TRUE(guard.attempt(k, 21, t0).charged);
    const VerifyCharge unanswered(guard, {k, 21});  // refunded at scope exit
  }
  EXPECT_EQ(ask(guard, k, 22, t0).count(), 0);  // 20 and 22: the limit
  EXPECT_GT(ask(guard, k, 23, t0).count(), 0);
}

TEST(VerifyGuard, NoSuchSubjectCountsOnceWhateverIsClaimed) {
  VerifyGuard guard({.limit = 2, .window = 60s});
  const auto t0 = Clock::now();
  const auto k = guard.key("bank", "population", "citizen_id:001099999999");
  for (VerifyGuard::Claims c = 1; c <= 20; ++c)
    ASSERT_EQ(ask(guard, k, c, t0, Told::kNoSuchSubject).count(), 0) << c;
}

TEST(VerifyGuard, ChargesConcurrentAttemptsBeforeAnyAnswer) {
  VerifyGuard guard({.limit = 5, .window = 60s});
  const auto t0 = Clock::now();
  const auto k = guard.key("bank", "population", "s");
  int admitted = 0;
  for (VerifyGuard::Claims c = 1; c <= 50; ++c) admitted += guard.attempt(k, c, t0).charged ? 1 : 0;
  EXPECT_EQ(admitted, 5);
}

TEST(VerifyGuard, AFloodOfSubjectsShortensMemoryButDoesNotGrowIt) {
  VerifyGuard guard({.limit = 1, .window = 3600s, .max_entries = 100});
  const auto t0 = Clock::now();
  const auto k = guard.key("bank", "population", "target");
  ASSERT_EQ(ask(guard, k, 1, t0).count(), 0);
  EXPECT_GT(ask(guard, k, 2, t0).count(), 0);
  for (int i = 0; i < 99; ++i)
    ask(guard, guard.key("bank", "population", std::to_string(i)), 1, t0);
  EXPECT_GT(ask(guard, k, 2, t0).count(), 0) << "one rotation keeps the previous generation";
  for (int i = 0; i < 250; ++i)
    ask(guard, guard.key("bank", "population", std::to_string(i)), 1, t0);
  EXPECT_EQ(ask(guard, k, 2, t0).count(), 0) << "two early rotations forget it";
}

TEST(VerifyGuard, ClaimsDigestIgnoresOrderAndNeverIsZero) {
  bus::v1::Request a;
  (*a.mutable_claims())["full_name"] = "Nguyễn Văn An";
  (*a.mutable_claims())["date_of_birth"] = "1990-01-01";
  bus::v1::Request b;
  (*b.mutable_claims())["date_of_birth"] = "1990-01-01";
  (*b.mutable_claims())["full_name"] = "Nguyễn Văn An";
  EXPECT_EQ(VerifyGuard::claims_of(a), VerifyGuard::claims_of(b));
  (*b.mutable_claims())["date_of_birth"] = "1990-01-02";
  EXPECT_NE(VerifyGuard::claims_of(a), VerifyGuard::claims_of(b));
  EXPECT_NE(VerifyGuard::claims_of(bus::v1::Request{}), 0U);
}

TEST(VerifyGuard, LimitZeroIsOff) {
  VerifyGuard guard({.limit = 0});
  const auto k = guard.key("bank", "population", "s");
  for (VerifyGuard::Claims c = 1; c <= 100; ++c)
    ASSERT_EQ(ask(guard, k, c, Clock::now()).count(), 0);
}

}  // namespace
}  // namespace lgsp::gateway
