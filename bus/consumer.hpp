#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bus/kafka.hpp"

namespace lgsp::bus {

/// A Kafka consumer, either in a consumer group (subscribe) or on a manual assignment
/// (assign, used by a gateway instance for its own reply partition: no group, no rebalance).
///
/// Thread-safety: use from one thread (the poll loop). close() leaves the group cleanly
/// so the partitions move to the survivors at once; the destructor calls it.
/// Neither copyable nor movable.
class Consumer {
 public:
  /// librdkafka's statistics JSON, every `statistics.interval.ms`, on the polling thread.
  using OnStatistics = std::function<void(std::string_view json)>;

  /// group_id is required by librdkafka even for assign(); it is joined only by subscribe().
  Consumer(const Properties& props, const std::string& group_id, OnStatistics on_statistics = {});
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  void subscribe(const std::vector<std::string>& topics);
  /// offset: RD_KAFKA_OFFSET_END, RD_KAFKA_OFFSET_BEGINNING or an absolute offset.
  void assign(const std::string& topic, std::int32_t partition, std::int64_t offset);

  /// The next message or event (check ->err), or nullptr when none came within timeout.
  MessagePtr poll(std::chrono::milliseconds timeout);

  /// Marks everything before next_offset as processed; auto-commit commits it.
  void store_offset(const std::string& topic, std::int32_t partition, std::int64_t next_offset);

  void close();
  rd_kafka_t* handle() const { return rk_.get(); }

  /// Group members: whether the group has handed this member its share yet (possibly none
  /// when there are more members than partitions).
  bool joined() const { return joined_.load(); }

 private:
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque);

  static int on_stats(rd_kafka_t* rk, char* json, size_t json_len, void* opaque);

  OnStatistics on_statistics_;
  KafkaHandle rk_;
  bool closed_ = false;
  std::atomic<bool> joined_{false};
};

}  // namespace lgsp::bus
