#pragma once

#include <atomic>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bus/consumer.hpp"
#include "bus/envelope.hpp"
#include "bus/producer.hpp"
#include "gateway/correlation.hpp"
#include "gateway/gateway_probe.hpp"
#include "util/sealing.hpp"

namespace lgsp::gateway {

/// Why a bus call produced no reply. Mapped to HTTP in one place (api_handler.cpp).
enum class CallErrc {
  kTimeout = 1,    // deadline passed → 504
  kOverloaded,     // too many pending exchanges or producer queue full → 503
  kPublishFailed,  // the bus refused or could not deliver the request → 503
  kStopped,        // the gateway is shutting down → 503
};
const boost::system::error_category& call_category();
inline boost::system::error_code make_error_code(CallErrc e) {
  return {static_cast<int>(e), call_category()};
}

struct BusClientOptions {
  bus::Topics topics;
  std::int32_t reply_partition = 0;
  bus::Properties producer_properties;
  bus::Properties consumer_properties;
  std::size_t max_pending = 10000;
  /// Registries whose request and batch topics the producer learns at start, so the first request
  /// does not wait for a metadata round trip.
  std::vector<std::string> registries;
  /// Most interactive requests carried by one Kafka message (a RequestBundle); 1 publishes
  /// every request as its own message.
  std::size_t max_bundle = 64;
  /// Secret for the requests' message keys (bus::MessageKeys); empty: a random one.
  std::string message_key_secret;
  /// Seals requests with their registry's key and opens replies (bus::envelope_sealer);
  /// shared with the audit publisher. Null: unsealed.
  std::shared_ptr<const util::Sealer> sealer;
};

/// Request/reply over Kafka for one gateway instance: publishes request envelopes to the
/// partition of their subject's key, consumes the instance's own partition of the reply
/// topic (manual assignment, no group), and completes each caller when its reply arrives or
/// its deadline passes.
///
/// Publishing is batched without waiting: callers put requests in an outbox and a sender
/// thread publishes whatever is there whenever it is free. Interactive requests found there
/// together for the same partition go as one RequestBundle message (up to max_bundle), so
/// under load the bus carries a message per bundle instead of per request, and when idle a
/// request is published at once, alone.
///
/// Threads: the sender (outbox → Kafka; it also times out exchanges, sleeping until the next
/// deadline), a reply thread (consume → correlate), and the producer's polling thread.
/// Completions are posted to the caller's executor, so a coroutine resumes on its own
/// strand. Lifecycle: start() before calls; stop() completes what is pending with kStopped,
/// flushes and joins. Not copyable.
class BusClient {
 public:
  /// A caller awaiting its reply: where to resume it, and how.
  struct Completion {
    boost::asio::any_io_executor executor;
    boost::asio::any_completion_handler<void(boost::system::error_code, bus::v1::Reply)> handler;
    /// Set by initiate(): when the request was published, and its registry's histogram.
    std::chrono::steady_clock::time_point started{};
    prometheus::Histogram* exchange_duration = nullptr;
    /// The registry asked: only a reply sealed with its key completes the exchange.
    std::string registry;
  };
  using Clock = std::chrono::steady_clock;

  BusClient(BusClientOptions options, GatewayProbe& probe);
  ~BusClient();
  BusClient(const BusClient&) = delete;
  BusClient& operator=(const BusClient&) = delete;

  /// Positions the reply consumer at the end of its partition (throws if the bus cannot be
  /// reached within 30 s), then starts the threads.
  void start();
  void stop();

  /// Publishes `request` (its request_id must be unique) and completes with its reply, or
  /// with a CallErrc. Signature: void(error_code, bus::v1::Reply). A request with `batch`
  /// items (a bulk job's chunk) goes to the registry's batch topic; its reply carries one
  /// reply per item.
  template <class Token>
  auto async_call(bus::v1::Request request, std::string traceparent, Clock::time_point deadline,
                  Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, bus::v1::Reply)>(
        [this](auto handler, bus::v1::Request r, std::string tp, Clock::time_point d) {
          boost::asio::any_io_executor ex = boost::asio::get_associated_executor(handler);
          initiate(std::move(r), std::move(tp), d,
                   Completion{std::move(ex), std::move(handler), {}, nullptr, {}});
        },
        token, std::move(request), std::move(traceparent), deadline);
  }

  /// The request producer (acks=all, idempotent), shared with the audit publisher: one
  /// Kafka client fewer per gateway, and audit events batch with the requests.
  bus::Producer& producer() { return producer_; }
  const std::shared_ptr<const util::Sealer>& sealer() const { return options_.sealer; }
  /// The partition of the reply topic this instance reads (and names in its requests).
  std::int32_t reply_partition() const { return options_.reply_partition; }

  /// "" when the bus is reachable and the reply partition is positioned, else why not.
  std::string readiness() const;
  std::size_t pending() const;

 private:
  /// A request waiting in the outbox for the sender.
  struct Outgoing {
    bus::v1::Request request;
    std::string traceparent;
    Clock::time_point started;
    std::string key;  // the Kafka message key, set by the sender
  };

  void initiate(bus::v1::Request request, std::string traceparent, Clock::time_point deadline,
                Completion completion);
  void fail(const std::string& request_id, CallErrc why);
  static void complete(Completion c, boost::system::error_code ec, bus::v1::Reply reply);
  void send_loop(const std::stop_token& stop);
  /// Whether `registry`'s envelopes can be sealed (else logged: its requests fail).
  bool can_seal(const std::string& registry) const;
  void publish(std::vector<Outgoing>& outgoing);
  void publish_one(Outgoing& o, const std::string& topic, std::int32_t partition);
  void publish_bundle(std::vector<Outgoing*>::const_iterator first,
                      std::vector<Outgoing*>::const_iterator last, const std::string& topic,
                      std::int32_t partition);
  void reply_loop(const std::stop_token& stop);
  void deliver(bus::v1::Reply reply, std::string_view sealed_by);
  void check_bus();

  BusClientOptions options_;
  const bus::MessageKeys keys_;
  GatewayProbe& probe_;
  std::string reply_to_;
  bus::Producer producer_;
  bus::Consumer consumer_;
  mutable std::mutex mu_;  // guards table_ and outbox_
  CorrelationTable<Completion> table_;
  std::vector<Outgoing> outbox_;
  std::condition_variable_any wake_sender_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> bus_reachable_{false};
  std::atomic<bool> positioned_{false};
  std::jthread reply_thread_;
  std::jthread send_thread_;
  /// Per registry, resolved at construction (read-only afterwards).
  std::map<std::string, prometheus::Histogram*, std::less<>> exchange_duration_;
  /// Partition count of each request topic, learnt in start() (read-only afterwards). A
  /// topic missing here (metadata unknown) gets unbundled messages the partitioner places.
  std::map<std::string, std::int32_t, std::less<>> partitions_;
};

}  // namespace lgsp::gateway

template <>
struct boost::system::is_error_code_enum<lgsp::gateway::CallErrc> : std::true_type {};
