#pragma once

#include <string>

#include "bus/kafka.hpp"

struct rd_kafka_mock_cluster_s;

namespace lgsp::bus {

/// librdkafka's mock cluster: an in-process Kafka-protocol cluster on loopback TCP with
/// random ports. It speaks the real wire protocol (produce, fetch, consumer groups, commits,
/// headers), so every client (ours, kcat) connects to bootstraps() as to any cluster.
/// Known limits (see docs/architecture.md): no admin API (topics are created here), a new
/// group waits ~3 s for its first assignment, empty fetches are held fetch.wait.max.ms, and
/// its brokers never set TCP_NODELAY (so the constructor sets it on their listening sockets:
/// without it, responses waited 40 ms for delayed ACKs; see embedded_cluster.cpp).
///
/// Lifecycle: brokers listen from construction until destruction. Thread-safe.
class EmbeddedCluster {
 public:
  explicit EmbeddedCluster(int brokers);
  ~EmbeddedCluster();
  EmbeddedCluster(const EmbeddedCluster&) = delete;
  EmbeddedCluster& operator=(const EmbeddedCluster&) = delete;

  /// "127.0.0.1:port,..." for bootstrap.servers.
  std::string bootstraps() const;
  void create_topic(const std::string& name, int partitions);
  /// Takes a broker (1-based id) down or brings it back, for fault tests.
  void set_broker_up(int broker_id, bool up);
  /// Makes `broker_id` (1-based) the leader of one partition, or leaves it without a leader
  /// (-1): that partition refuses produce and fetch while others work, for fault tests.
  void set_partition_leader(const std::string& topic, int partition, int broker_id);

 private:
  KafkaHandle host_;  // the mock cluster lives inside this client instance
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
};

}  // namespace lgsp::bus
