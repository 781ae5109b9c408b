#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include "bus/consumer.hpp"
#include "bus/envelope.hpp"
#include "bus/producer.hpp"
#include "connectors/change_publisher.hpp"
#include "connectors/connector_probe.hpp"
#include "connectors/offset_tracker.hpp"
#include "connectors/registry_service.hpp"
#include "util/sealing.hpp"

namespace lgsp::connectors {

struct RuntimeOptions {
  bus::Topics topics;
  std::string group_id;                 // the batch topic's group is group_id + "-batch"
  bus::Properties consumer_properties;  // bootstrap and pass-through settings
  bus::Properties producer_properties;
  /// Partitions of the reply topic (kafka.reply_partitions): a request whose lgsp-reply-to
  /// names another topic or a partition outside 0..reply_partitions-1 is dropped.
  std::int32_t reply_partitions = 1;
  /// Opens requests sealed with the registry's key and seals the replies
  /// (bus::envelope_sealer). Null: unsealed.
  std::shared_ptr<const util::Sealer> sealer;
  /// The SQLite file whose change outbox this connector sends to the changes topic: the
  /// registry's own (its commands queue their changes there), or with `outbox_of_connector`
  /// one of the connector's (it queues the changes of commands an upstream system applied,
  /// from their replies); "" when the registry's changes are not announced.
  std::string change_outbox;
  bool outbox_of_connector = false;
};

/// The connector's poll loop: request topic → registry service → reply-to partition; and
/// beside it the registry's batch topic (bulk jobs' chunks) → handle_batch() → reply-to.
///
/// Interactive requests come first: the loop takes at most one chunk between two polls of
/// the request topic, and never waits for one, so a request waits behind one chunk at most.
/// At-least-once: a message's offset is stored for commit only after its reply is delivered
/// (or it is dropped for good), in order per partition, each topic with its own consumer
/// group and bookkeeping. Expired requests and chunks are dropped unanswered: the gateway
/// has already given up on them.
/// Lifecycle: run() blocks on the calling thread until the stop token fires, then flushes
/// replies and leaves both groups. The service must outlive run().
class ConnectorRuntime {
 public:
  ConnectorRuntime(RuntimeOptions options, RegistryService& service, ConnectorProbe& probe);

  void run(const std::stop_token& stop);
  /// Joined its consumer group for interactive requests (ready to take work).
  bool joined() const { return requests_.consumer.joined(); }

 private:
  /// One consumed topic, with its own consumer (group) and offset bookkeeping: a backlog of
  /// chunks never holds back the commits of interactive requests.
  struct Lane {
    Lane(std::string topic_name, const bus::Properties& properties, const std::string& group_id,
         bus::Consumer::OnStatistics on_statistics, bool carries_chunks);
    std::string topic;
    bus::Consumer consumer;
    OffsetTracker offsets;
    bool chunks;  // the batch topic: messages are micro-batches
  };

  /// True for a message to process; logs consumer errors (not partition ends).
  static bool usable(const bus::MessagePtr& msg);
  void process(Lane& lane, const rd_kafka_message_t* msg);
  bus::v1::Reply answer(const bus::v1::Request& request, const std::string& trace_id);
  bus::v1::Reply answer_chunk(const bus::v1::Request& chunk, const std::string& trace_id);
  /// A RequestBundle: each request answered (or dropped if expired) on its own, the answers
  /// sent back together as one ReplyBundle.
  void process_bundle(Lane& lane, const rd_kafka_message_t* msg, const bus::ReplyTo& to,
                      const bus::v1::RequestBundle& bundle);
  /// What names a reply in log lines.
  struct LogIds {
    std::string request_id;
    std::string trace_id;
    /// What the reply answers, for the counters when it cannot be delivered: a bundle's
    /// requests, or a bulk chunk's records (`chunk`).
    std::int64_t requests = 1;
    bool chunk = false;
  };
  /// Produces the encoded reply `value` to `to` (waiting while the producer's queue is
  /// full); the message's offset is finished once it is delivered or failed for good.
  /// The request's envelope bytes, or nullopt (counted, logged) when the message is not
  /// sealed with this registry's key for this topic, reply address and bundle count.
  std::optional<std::string> open_request(const Lane& lane, const rd_kafka_message_t* msg,
                                          std::string_view reply_to, std::string_view bundle);
  /// The reply's bytes, sealed with the registry's key for the partition it goes to.
  template <class Envelope>
  std::string seal_reply(const bus::ReplyTo& to, std::string_view bundle,
                         const Envelope& reply) const;
  void send_reply(Lane& lane, const rd_kafka_message_t* msg, const bus::ReplyTo& to,
                  std::string_view key, const std::string& value, const bus::Headers& headers,
                  LogIds ids);
  void finish(Lane& lane, std::int32_t partition, std::int64_t offset);
  /// True when `to` is a partition of the configured reply topic: connectors answer only
  /// where gateways listen, never where a request's writer asks.
  bool replies_within_bounds(const bus::ReplyTo& to) const;

  RuntimeOptions options_;
  RegistryService& service_;
  /// Sends the change outbox (null without one); `applied_` says a command came meanwhile.
  std::unique_ptr<ChangePublisher> changes_;
  bool applied_ = false;
  ConnectorProbe& probe_;
  Lane requests_;
  Lane chunks_;
  bus::Producer producer_;
};

}  // namespace lgsp::connectors
