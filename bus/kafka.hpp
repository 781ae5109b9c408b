#pragma once

// librdkafka's C API, wrapped in RAII types (cppkafka style). rdkafka.h must come before
// rdkafka_mock.h, so every file includes Kafka through this header.
#include <librdkafka/rdkafka.h>

#include <boost/system/error_code.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lgsp::bus {

using Properties = std::vector<std::pair<std::string, std::string>>;

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
struct TopicPartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
using TopicPartitionListPtr =
    std::unique_ptr<rd_kafka_topic_partition_list_t, TopicPartitionListDeleter>;

/// Builds a librdkafka configuration. Throws std::invalid_argument naming the property and
/// librdkafka's reason, so a typo in YAML pass-through properties stops the start.
ConfPtr make_conf(const Properties& props);

/// Creates a client; throws std::runtime_error with librdkafka's reason. Takes the conf:
/// rd_kafka_new owns it on success only, so it is released only then.
KafkaHandle make_client(rd_kafka_type_t type, ConfPtr conf);

/// boost::system view of rd_kafka_resp_err_t so bus errors travel in result<T>.
const boost::system::error_category& kafka_category();
inline boost::system::error_code make_error_code(rd_kafka_resp_err_t e) {
  return {static_cast<int>(e), kafka_category()};
}

/// Whether retrying the same operation later may succeed (queue full, broker down, timeout)
/// as opposed to a fault that needs an operator (unknown topic, message too large, auth).
bool is_retryable(rd_kafka_resp_err_t e);

struct Header {
  std::string key;
  std::string value;
};
using Headers = std::vector<Header>;

}  // namespace lgsp::bus
