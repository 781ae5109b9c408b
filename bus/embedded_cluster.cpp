#include "bus/embedded_cluster.hpp"

// rdkafka_mock.h needs rdkafka.h first (kafka.hpp).
#include <librdkafka/rdkafka_mock.h>
#include "bus/kafka.hpp"

#include <stdexcept>

namespace lgsp::bus {

EmbeddedCluster::EmbeddedCluster(int brokers) {
  host_ = make_client(RD_KAFKA_PRODUCER, make_conf({{"log_level", "3"}}));
  cluster_ = rd_kafka_mock_cluster_new(host_.get(), brokers);
  if (cluster_ == nullptr) throw std::runtime_error("cannot start the embedded Kafka cluster");
}

EmbeddedCluster::~EmbeddedCluster() {
  // The cluster must go before the client instance that hosts it.
  rd_kafka_mock_cluster_destroy(cluster_);
}

std::string EmbeddedCluster::bootstraps() const {
  return rd_kafka_mock_cluster_bootstraps(cluster_);
}

void EmbeddedCluster::create_topic(const std::string& name, int partitions) {
  const auto err = rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("cannot create topic " + name + ": " + rd_kafka_err2str(err));
  }
}

void EmbeddedCluster::set_broker_up(int broker_id, bool up) {
  if (up) {
    rd_kafka_mock_broker_set_up(cluster_, broker_id);
  } else {
    rd_kafka_mock_broker_set_down(cluster_, broker_id);
  }
}

void EmbeddedCluster::set_partition_leader(const std::string& topic, int partition, int broker_id) {
  const auto err =
      rd_kafka_mock_partition_set_leader(cluster_, topic.c_str(), partition, broker_id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("cannot set the leader of " + topic + ": " + rd_kafka_err2str(err));
  }
}

}  // namespace lgsp::bus
