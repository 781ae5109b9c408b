#include "bus/statistics.hpp"

#include <gtest/gtest.h>

namespace lgsp::bus {
namespace {

// Shaped like librdkafka's STATISTICS.md output, trimmed to the fields that matter.
constexpr const char* kStats = R"({
  "name": "lgsp-connector-population-1#consumer-1", "type": "consumer",
  "topics": {
    "lgsp.population.requests": {
      "topic": "lgsp.population.requests",
      "partitions": {
        "0": {"partition": 0, "consumer_lag": 12, "fetch_state": "active"},
        "1": {"partition": 1, "consumer_lag": 30, "fetch_state": "active"},
        "2": {"partition": 2, "consumer_lag": -1, "fetch_state": "none"},
        "-1": {"partition": -1, "consumer_lag": 99}
      }
    },
    "lgsp.other": {"partitions": {"0": {"partition": 0, "consumer_lag": 8}}}
  }
})";

TEST(ConsumerLag, SumsKnownLagOverFetchedPartitions) {
  EXPECT_EQ(consumer_lag(kStats), 50);  // 12 + 30 + 8; unknown (-1) and internal skipped
}

TEST(ConsumerLag, NoPartitionWithKnownLagIsNoReading) {
  EXPECT_EQ(consumer_lag(R"({"topics": {}})"), std::nullopt);
  EXPECT_EQ(consumer_lag(R"({"topics": {"t": {"partitions": {"0": {"consumer_lag": -1}}}}})"),
            std::nullopt);
}

TEST(ConsumerLag, MalformedJsonIsNoReading) {
  EXPECT_EQ(consumer_lag("{"), std::nullopt);
  EXPECT_EQ(consumer_lag("[]"), std::nullopt);
  EXPECT_EQ(consumer_lag(R"({"topics": 3})"), std::nullopt);
  EXPECT_EQ(consumer_lag(R"({"topics": {"t": {"partitions": {"0": {"consumer_lag": "x"}}}}})"),
            std::nullopt);
}

}  // namespace
}  // namespace lgsp::bus
