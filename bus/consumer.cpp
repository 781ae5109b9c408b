#include "bus/consumer.hpp"

#include <stdexcept>
#include <string_view>

#include "observability/log.hpp"

namespace lgsp::bus {

Consumer::Consumer(const Properties& props, const std::string& group_id, OnStatistics on_statistics)
    : on_statistics_(std::move(on_statistics)) {
  Properties all = props;
  if (!group_id.empty()) all.emplace_back("group.id", group_id);
  ConfPtr conf = make_conf(all);
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_rebalance_cb(conf.get(), &Consumer::on_rebalance);
  if (on_statistics_) rd_kafka_conf_set_stats_cb(conf.get(), &Consumer::on_stats);
  rk_ = make_client(RD_KAFKA_CONSUMER, std::move(conf));
  rd_kafka_poll_set_consumer(rk_.get());
}

Consumer::~Consumer() { close(); }

int Consumer::on_stats(rd_kafka_t* /*rk*/, char* json, size_t json_len, void* opaque) {
  static_cast<Consumer*>(opaque)->on_statistics_(std::string_view(json, json_len));
  return 0;  // librdkafka frees the JSON
}

void Consumer::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* self = static_cast<Consumer*>(opaque);
  const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, partitions))
        rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, partitions);
    }
    self->joined_ = true;
    obs::info("kafka_partitions_assigned", {{"count", partitions->cnt}});
  } else {
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, partitions))
        rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, nullptr);
    }
    obs::info("kafka_partitions_revoked", {{"count", partitions->cnt}});
  }
}

void Consumer::subscribe(const std::vector<std::string>& topics) {
  TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const auto& t : topics)
    rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  if (const auto err = rd_kafka_subscribe(rk_.get(), list.get());
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(std::string("Kafka subscribe failed: ") + rd_kafka_err2str(err));
  }
}

void Consumer::assign(const std::string& topic, std::int32_t partition, std::int64_t offset) {
  TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = offset;
  if (const auto err = rd_kafka_assign(rk_.get(), list.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(std::string("Kafka assign failed: ") + rd_kafka_err2str(err));
  }
}

MessagePtr Consumer::poll(std::chrono::milliseconds timeout) {
  return MessagePtr(rd_kafka_consumer_poll(rk_.get(), static_cast<int>(timeout.count())));
}

void Consumer::store_offset(const std::string& topic, std::int32_t partition,
                            std::int64_t next_offset) {
  TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = next_offset;
  // Fails only for a partition no longer assigned (after a rebalance); its new owner
  // re-processes from the last commit, which at-least-once delivery accepts.
  (void)rd_kafka_offsets_store(rk_.get(), list.get());
}

void Consumer::close() {
  if (closed_) return;
  closed_ = true;
  rd_kafka_consumer_close(rk_.get());
}

}  // namespace lgsp::bus
