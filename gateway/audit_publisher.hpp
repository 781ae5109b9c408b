#pragma once

#include <atomic>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bus/envelope.hpp"
#include "bus/producer.hpp"
#include "gateway/gateway_probe.hpp"
#include "util/hashing.hpp"
#include "util/sealing.hpp"

namespace lgsp::gateway {

/// Keyed hashes of subject identifiers (HMAC-SHA256, lower-case hex). Keyed because the space
/// of 12-digit citizen IDs is small enough to reverse a plain hash by trying them all; only
/// whoever holds the audit key can link a hash back to a person. Immutable; thread-safe.
class SubjectHasher {
 public:
  explicit SubjectHasher(std::string_view key) : hmac_(key) {}
  std::string hash(std::string_view citizen_id) const;

 private:
  util::HmacSha256 hmac_;
};

struct AuditPublisherOptions {
  /// How long async_record() waits for the cluster's acknowledgement.
  std::chrono::milliseconds delivery_timeout{2000};
  /// Events sent and not yet acknowledged above which accepting() is false.
  std::int64_t max_undelivered = 2000;
  /// This process's name in the trail's event sequences ("gateway-<instance>-<nonce>"): each
  /// event gets the next number of this source, so a lost event is a visible gap.
  std::string source;
  /// Seals events with the "audit" key (only the gateways and the audit writer hold it), so a
  /// writer to the audit topic cannot add events to the trail nor read who asked for what.
  /// Null: unsealed.
  std::shared_ptr<const util::Sealer> sealer;
};

/// Sends one audit event per request to the audit topic, keyed by event id, through the
/// gateway's producer (which the gateway configures acks=all and idempotent, so an
/// acknowledged event is on every in-sync replica).
///
/// Data is released only once its event is durable: async_record() completes with true when
/// the cluster has acknowledged the event, and with false when it could not be sent, failed,
/// or was not acknowledged within delivery_timeout (the caller then refuses the answer; an
/// event acknowledged after that is counted "late": the trail then records an access whose
/// answer was refused, the safe side). Answers that release nothing use send() and do not
/// wait. accepting() turns false while too many events are unacknowledged, so the gateway
/// refuses work up front instead of piling up answers it could not release.
///
/// Callers only queue: numbering, encoding, sealing and handing the event to the producer
/// happen on the publisher's own thread ("lgsp-audit-send"), woken only when its queue was
/// empty, so a busy HTTP thread neither seals nor wakes librdkafka per request.
///
/// flush() at stop delivers what is queued, so a graceful stop loses no event; so does the
/// destructor, for what is queued up to then. Thread-safe. The producer must outlive it.
class AuditPublisher {
 public:
  /// Called once, on a Kafka thread (or on the publisher's thread when the producer refused
  /// the event), with true once the event is acknowledged and false when it is lost.
  using OnDurable = std::function<void(bool)>;

  AuditPublisher(bus::Producer& producer, std::string topic, GatewayProbe& probe,
                 AuditPublisherOptions options);
  ~AuditPublisher();
  AuditPublisher(const AuditPublisher&) = delete;
  AuditPublisher& operator=(const AuditPublisher&) = delete;
  /// Fetches the topic's metadata (so the first event does not wait for it).
  void start();
  /// Queues `event` for the publisher's thread, which numbers it in this source's sequence
  /// and hands it to the producer. An event the producer refuses is reported through
  /// `on_durable(false)` (on the publisher's thread) and the audit_failed counter, and its
  /// number is given to the next event, so the sequence stays without gaps.
  void send(bus::v1::AuditEvent event, OnDurable on_durable = {});
  /// Sends `event` and completes with whether it became durable in time. Signature:
  /// void(bool). The completion is posted to the handler's executor, never run inline.
  template <class Token>
  auto async_record(bus::v1::AuditEvent event, Token&& token) {
    return boost::asio::async_initiate<Token, void(bool)>(
        [this](auto handler, bus::v1::AuditEvent&& e) {
          boost::asio::any_io_executor ex = boost::asio::get_associated_executor(handler);
          initiate_record(std::move(e), std::move(ex), std::move(handler));
        },
        token, std::move(event));
  }
  /// False while more events than max_undelivered await acknowledgement.
  bool accepting() const { return undelivered_.load() < options_.max_undelivered; }
  std::int64_t undelivered() const { return undelivered_.load(); }
  /// Waits until every queued event is delivered (true) or `timeout` passes (false).
  bool flush(std::chrono::milliseconds timeout);

 private:
  struct Queued {
    bus::v1::AuditEvent event;
    OnDurable on_durable;
    std::chrono::steady_clock::time_point queued;
  };

  void initiate_record(bus::v1::AuditEvent event, boost::asio::any_io_executor ex,
                       boost::asio::any_completion_handler<void(bool)> handler);
  /// The publisher's thread: takes the whole queue at each wake-up and produces it in order.
  void send_loop(const std::stop_token& stop);
  /// Numbers, seals and produces one event (publisher's thread only): events enter the
  /// producer's queue (one partition, idempotent, so delivered in that order) in the order
  /// of their numbers.
  void produce(Queued& q);

  bus::Producer& producer_;
  std::string topic_;
  GatewayProbe& probe_;
  AuditPublisherOptions options_;
  std::atomic<std::int64_t> undelivered_{0};
  std::int64_t next_seq_ = 1;  // the publisher's thread only

  std::mutex queue_mu_;
  std::condition_variable_any wake_;     // the queue became non-empty, or stop
  std::condition_variable_any drained_;  // the queue is empty and nothing is in hand
  std::vector<Queued> queue_;            // guarded by queue_mu_
  bool producing_ = false;               // guarded by queue_mu_: a taken batch is in hand
  std::jthread thread_;                  // last: started once the members above exist
};

}  // namespace lgsp::gateway
