#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "bus/kafka.hpp"

namespace lgsp::bus {

/// The partition librdkafka's default partitioner (consistent_random) gives a non-empty
/// `key` among `partitions` (> 0): CRC-32 of the key modulo the count. Lets a producer that
/// groups messages by partition place them where keyed messages would have gone.
std::int32_t partition_for_key(std::string_view key, std::int32_t partitions);

/// A Kafka producer with per-message delivery callbacks.
///
/// Lifecycle: constructed connected-lazily (librdkafka connects in the background); the
/// destructor flushes what is queued (up to 10 s) and stops polling. Thread-safety:
/// produce() may be called from any thread. Delivery callbacks run on the polling thread:
/// the producer's own thread with Polling::kBackground, or whoever calls poll() with
/// Polling::kByOwner (the connector, which keeps offset bookkeeping on one thread).
/// Neither copyable nor movable: librdkafka holds a pointer to it.
class Producer {
 public:
  /// Called once per message with RD_KAFKA_RESP_ERR_NO_ERROR or the delivery error.
  using OnDelivery = std::function<void(rd_kafka_resp_err_t)>;
  enum class Polling { kBackground, kByOwner };

  Producer(const Properties& props, Polling polling);
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  /// Queues one message. partition < 0 lets the partitioner pick by key. On error nothing
  /// was queued and on_delivery is not called.
  boost::system::error_code produce(const std::string& topic, std::int32_t partition,
                                    std::string_view key, std::string_view value,
                                    const Headers& headers, OnDelivery on_delivery);

  /// Fetches `topic`'s metadata now: a producer's first message to a topic otherwise waits
  /// for it (about a second on the embedded cluster). Blocks up to 5 s. `partitions`, when
  /// given, receives the topic's partition count (0 if the metadata did not say).
  boost::system::error_code learn_topic(const std::string& topic,
                                        std::int32_t* partitions = nullptr);

  /// Serves delivery callbacks; returns how many were served.
  int poll(std::chrono::milliseconds timeout);
  /// Waits until every queued message is delivered or failed; false on timeout.
  bool flush(std::chrono::milliseconds timeout);
  /// Messages queued or in flight.
  int outstanding() const { return rd_kafka_outq_len(rk_.get()); }
  rd_kafka_t* handle() const { return rk_.get(); }

 private:
  static void on_delivery_report(rd_kafka_t*, const rd_kafka_message_t* msg, void*);

  KafkaHandle rk_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

}  // namespace lgsp::bus
