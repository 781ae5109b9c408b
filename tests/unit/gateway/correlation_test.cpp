#include "gateway/correlation.hpp"

#include <gtest/gtest.h>

namespace lgsp::gateway {
namespace {

using Table = CorrelationTable<int>;
using namespace std::chrono_literals;
const Table::Clock::time_point t0{};

TEST(Correlation, ReplyTakesTheCompletionOnce) {
  Table t(10);
  ASSERT_TRUE(t.add("a", 1, t0 + 100ms));
  const auto c = t.take("a");
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, 1);
  EXPECT_EQ(t.size(), 0U);
  EXPECT_FALSE(t.take("a"));
}

TEST(Correlation, SecondReplyIsClassifiedDuplicate) {
  Table t(10);
  t.add("a", 1, t0 + 100ms);
  ASSERT_TRUE(t.take("a"));
  EXPECT_FALSE(t.take("a"));
  EXPECT_EQ(t.classify("a"), Table::Unmatched::kDuplicate);
}

TEST(Correlation, DeadlineExpiresOnlyDueEntriesInOrder) {
  Table t(10);
  t.add("late", 2, t0 + 200ms);
  t.add("early", 1, t0 + 100ms);
  EXPECT_TRUE(t.take_expired(t0 + 99ms).empty());
  auto expired = t.take_expired(t0 + 150ms);
  ASSERT_EQ(expired.size(), 1U);
  EXPECT_EQ(expired[0].first, "early");
  EXPECT_EQ(t.size(), 1U);
  EXPECT_EQ(t.next_deadline(), t0 + 200ms);
}

TEST(Correlation, ReplyAfterTimeoutIsLateAndNotDelivered) {
  Table t(10);
  t.add("a", 1, t0 + 100ms);
  ASSERT_EQ(t.take_expired(t0 + 100ms).size(), 1U);
  EXPECT_FALSE(t.take("a"));
  EXPECT_EQ(t.classify("a"), Table::Unmatched::kLate);
}

TEST(Correlation, AnsweredExchangeNeverTimesOut) {
  Table t(10);
  t.add("a", 1, t0 + 100ms);
  ASSERT_TRUE(t.take("a"));
  EXPECT_TRUE(t.take_expired(t0 + 1s).empty());
}

TEST(Correlation, UnknownIdIsUnknown) {
  Table t(10);
  EXPECT_EQ(t.classify("never"), Table::Unmatched::kUnknown);
}

TEST(Correlation, FullTableRefusesAndLeavesCompletionWithCaller) {
  CorrelationTable<std::string> t(1);
  std::string first = "one", second = "two";
  ASSERT_TRUE(t.add("a", std::move(first), t0 + 1s));
  EXPECT_FALSE(t.add("b", std::move(second), t0 + 1s));
  EXPECT_EQ(second, "two");  // not moved from: the caller can still fail it
}

TEST(Correlation, DuplicateIdIsRefused) {
  Table t(10);
  ASSERT_TRUE(t.add("a", 1, t0 + 1s));
  EXPECT_FALSE(t.add("a", 2, t0 + 1s));
  EXPECT_EQ(*t.take("a"), 1);
}

TEST(Correlation, MemoryOfFinishedIdsIsBounded) {
  Table t(10, 2);
  for (const char* id : {"a", "b", "c"}) {
    t.add(id, 1, t0 + 1s);
    t.take(id);
  }
  EXPECT_EQ(t.classify("a"), Table::Unmatched::kUnknown);  // forgotten
  EXPECT_EQ(t.classify("c"), Table::Unmatched::kDuplicate);
}

TEST(Correlation, TakeAllEmptiesTheTable) {
  Table t(10);
  t.add("a", 1, t0 + 1s);
  t.add("b", 2, t0 + 2s);
  EXPECT_EQ(t.take_all().size(), 2U);
  EXPECT_EQ(t.size(), 0U);
  EXPECT_FALSE(t.next_deadline());
}

}  // namespace
}  // namespace lgsp::gateway
