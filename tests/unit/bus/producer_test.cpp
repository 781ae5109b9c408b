#include "bus/producer.hpp"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <memory>
#include <set>
#include <string>

#include "bus/envelope.hpp"

namespace lgsp::bus {
namespace {

// Bundled requests are placed by partition_for_key; a request sent alone with its key is
// placed by librdkafka. Both must agree, or one subject's requests would split.
TEST(PartitionForKey, AgreesWithLibrdkafkasDefaultPartitioner) {
  char err[256];
  const std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)> rk(
      rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof err), &rd_kafka_destroy);
  ASSERT_TRUE(rk) << err;
  const std::unique_ptr<rd_kafka_topic_t, decltype(&rd_kafka_topic_destroy)> rkt(
      rd_kafka_topic_new(rk.get(), "t", nullptr), &rd_kafka_topic_destroy);
  std::set<std::int32_t> seen;
  const MessageKeys keys("test secret");
  for (const std::int32_t partitions : {1, 4, 7, 64}) {
    for (int i = 0; i < 500; ++i) {
      const std::string key = keys.key("0010990" + std::to_string(10000 + i));
      const std::int32_t ours = partition_for_key(key, partitions);
      EXPECT_EQ(ours, rd_kafka_msg_partitioner_consistent(rkt.get(), key.data(), key.size(),
                                                          partitions, nullptr, nullptr))
          << key << " among " << partitions;
      if (partitions == 64) seen.insert(ours);
    }
  }
  EXPECT_GT(seen.size(), 50U) << "keys should spread over the partitions";
}

}  // namespace
}  // namespace lgsp::bus
