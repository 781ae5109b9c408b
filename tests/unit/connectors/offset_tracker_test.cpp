#include "connectors/offset_tracker.hpp"

#include <gtest/gtest.h>

namespace lgsp::connectors {
namespace {

TEST(OffsetTracker, InOrderCompletionAdvancesEachTime) {
  OffsetTracker t;
  t.begin(0, 10);
  t.begin(0, 11);
  EXPECT_EQ(t.done(0, 10), 11);
  EXPECT_EQ(t.done(0, 11), 12);
}

TEST(OffsetTracker, CommitNeverPassesAnUnfinishedRequest) {
  OffsetTracker t;
  t.begin(0, 10);
  t.begin(0, 11);
  t.begin(0, 12);
  EXPECT_EQ(t.done(0, 12), 10);  // 10 still in flight: commit only up to it
  EXPECT_FALSE(t.done(0, 11));   // still blocked by 10, nothing new to store
  EXPECT_EQ(t.done(0, 10), 13);  // all done: jump past 12
  EXPECT_EQ(t.in_flight(), 0U);
}

TEST(OffsetTracker, PartitionsAreIndependent) {
  OffsetTracker t;
  t.begin(0, 5);
  t.begin(1, 7);
  EXPECT_EQ(t.done(1, 7), 8);
  EXPECT_EQ(t.in_flight(), 1U);
}

TEST(OffsetTracker, UnknownOrRepeatedDoneIsIgnored) {
  OffsetTracker t;
  EXPECT_FALSE(t.done(3, 1));
  t.begin(0, 1);
  EXPECT_EQ(t.done(0, 1), 2);
  EXPECT_FALSE(t.done(0, 1));
}

}  // namespace
}  // namespace lgsp::connectors
