#include "gateway/citizen_reads.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace lgsp::gateway {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using std::chrono::system_clock;

const std::string kAlice(64, 'a');
const std::string kBob(64, 'b');
// 2026-12-07 00:00:00 UTC.
const system_clock::time_point kMidnight{seconds(1796601600)};

TEST(CitizenReads, EachCitizenHasItsOwnDailyLimitResetAtMidnightUtc) {
  CitizenReads reads(2);
  const auto morning = kMidnight + hours(9);
  EXPECT_EQ(reads.take(kAlice, morning), CitizenReads::Verdict::kAllowed);
  EXPECT_EQ(reads.take(kAlice, morning), CitizenReads::Verdict::kAllowed);
  EXPECT_EQ(reads.take(kAlice, morning), CitizenReads::Verdict::kExhausted);
  EXPECT_EQ(reads.take(kAlice, morning + hours(14)), CitizenReads::Verdict::kExhausted);
  EXPECT_EQ(reads.take(kBob, morning), CitizenReads::Verdict::kAllowed);
  EXPECT_EQ(reads.take(kAlice, kMidnight + hours(24)), CitizenReads::Verdict::kAllowed);
}

TEST(CitizenReads, MemoryIsBoundedByRefusingFurtherCitizensNotByForgetting) {
  CitizenReads reads(1, 1);
  EXPECT_EQ(reads.take(kAlice, kMidnight), CitizenReads::Verdict::kAllowed);
  EXPECT_EQ(reads.take(kBob, kMidnight), CitizenReads::Verdict::kFull);
  EXPECT_EQ(reads.take(kAlice, kMidnight), CitizenReads::Verdict::kExhausted);
  EXPECT_EQ(reads.take(kBob, kMidnight + hours(24)), CitizenReads::Verdict::kAllowed);
}

TEST(CitizenReads, RetryAfterPointsAtTheNextMidnight) {
  EXPECT_EQ(CitizenReads::seconds_to_midnight(kMidnight + hours(23)), 3600);
  EXPECT_EQ(CitizenReads::seconds_to_midnight(kMidnight), 86400);
}

}  // namespace
}  // namespace lgsp::gateway
