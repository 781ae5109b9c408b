#pragma once

#include <atomic>
#include <memory>
#include <stop_token>
#include <string>

#include "bus/consumer.hpp"
#include "bus/envelope.hpp"
#include "bus/producer.hpp"
#include "connectors/connector_probe.hpp"
#include "connectors/offset_tracker.hpp"
#include "connectors/registry_service.hpp"

namespace lgsp::connectors {

struct RuntimeOptions {
  bus::Topics topics;
  std::string group_id;
  bus::Properties consumer_properties;  // bootstrap and pass-through settings
  bus::Properties producer_properties;
};

/// The connector's poll loop: request topic → registry service → reply-to partition.
///
/// At-least-once: a request's offset is stored for commit only after its reply is delivered
/// (or it is dropped for good), in order per partition. Expired requests are dropped
/// unanswered: the gateway has already answered 504.
/// Lifecycle: run() blocks on the calling thread until the stop token fires, then flushes
/// replies and leaves the group. The service must outlive run().
class ConnectorRuntime {
 public:
  ConnectorRuntime(RuntimeOptions options, RegistryService& service, ConnectorProbe& probe);

  void run(const std::stop_token& stop);
  /// Joined its consumer group (ready to take work).
  bool joined() const { return consumer_.joined(); }

 private:
  void process(const rd_kafka_message_t* msg);
  void finish(std::int32_t partition, std::int64_t offset);

  RuntimeOptions options_;
  RegistryService& service_;
  ConnectorProbe& probe_;
  std::string request_topic_;
  bus::Consumer consumer_;
  bus::Producer producer_;
  OffsetTracker offsets_;
};

}  // namespace lgsp::connectors
