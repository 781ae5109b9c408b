#include "bus/embedded_cluster.hpp"

// rdkafka_mock.h needs rdkafka.h first (kafka.hpp).
#include <librdkafka/rdkafka_mock.h>
#include "bus/kafka.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <charconv>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string_view>

namespace lgsp::bus {

namespace {

/// The ports in "127.0.0.1:port,127.0.0.1:port".
std::set<int> ports_of(std::string_view bootstraps) {
  std::set<int> ports;
  while (!bootstraps.empty()) {
    const auto comma = bootstraps.find(',');
    const auto one = bootstraps.substr(0, comma);
    int port = 0;
    if (const auto colon = one.rfind(':'); colon != std::string_view::npos) {
      std::from_chars(one.data() + colon + 1, one.data() + one.size(), port);
      ports.insert(port);
    }
    bootstraps =
        comma == std::string_view::npos ? std::string_view{} : bootstraps.substr(comma + 1);
  }
  return ports;
}

/// Turns Nagle's algorithm off on this process's listening sockets bound to `ports`; the
/// connections they accept inherit TCP_NODELAY (Linux copies it to accepted sockets).
///
/// Why: librdkafka's mock brokers never set TCP_NODELAY, so with several requests in flight
/// on one connection a small response waits for the client's delayed ACK (40 ms on Linux).
/// An idempotent producer writing to several partitions hit that on every other
/// ProduceResponse: acknowledgements took ~42 ms instead of ~1 ms. Real Kafka brokers set
/// TCP_NODELAY on their sockets; this makes the embedded cluster behave like them.
void disable_nagle_on_listeners(const std::set<int>& ports) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    int fd = -1;
    const std::string name = entry.path().filename().string();
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc{}) continue;
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0)
      continue;
    sockaddr_storage addr{};
    socklen_t addr_len = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0 ||
        addr.ss_family != AF_INET)
      continue;
    const int port = ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
    if (ports.count(port) == 0) continue;
    const int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
}

}  // namespace

EmbeddedCluster::EmbeddedCluster(int brokers) {
  host_ = make_client(RD_KAFKA_PRODUCER, make_conf({{"log_level", "3"}}));
  cluster_ = rd_kafka_mock_cluster_new(host_.get(), brokers);
  if (cluster_ == nullptr) throw std::runtime_error("cannot start the embedded Kafka cluster");
  disable_nagle_on_listeners(ports_of(bootstraps()));
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
    disable_nagle_on_listeners(ports_of(bootstraps()));  // in case it listens anew
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
