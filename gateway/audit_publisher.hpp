#pragma once

#include <atomic>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

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
/// flush() at stop delivers what is queued, so a graceful stop loses no event. Thread-safe.
/// The producer must outlive it.
class AuditPublisher {
 public:
  /// Called once, on a Kafka thread (or inline when the event could not be queued), with true
  /// once the event is acknowledged and false when it is lost.
  using OnDurable = std::function<void(bool)>;

  AuditPublisher(bus::Producer& producer, std::string topic, GatewayProbe& probe,
                 AuditPublisherOptions options);
  /// Fetches the topic's metadata (so the first event does not wait for it).
  void start();
  /// Numbers `event` in this source's sequence and queues it; false when it could not be
  /// queued (then `on_durable(false)` has run, and the number is given to the next event).
  bool send(bus::v1::AuditEvent event, const OnDurable& on_durable = {});
  /// Sends `event` and completes with whether it became durable in time. Signature:
  /// void(bool). The completion is posted to the handler's executor, never run inline.
  template <class Token>
  auto async_record(const bus::v1::AuditEvent& event, Token&& token) {
    return boost::asio::async_initiate<Token, void(bool)>(
        [this](auto handler, const bus::v1::AuditEvent& e) {
          boost::asio::any_io_executor ex = boost::asio::get_associated_executor(handler);
          initiate_record(e, std::move(ex), std::move(handler));
        },
        token, event);
  }
  /// False while more events than max_undelivered await acknowledgement.
  bool accepting() const { return undelivered_.load() < options_.max_undelivered; }
  std::int64_t undelivered() const { return undelivered_.load(); }
  /// Waits until every queued event is delivered (true) or `timeout` passes (false).
  bool flush(std::chrono::milliseconds timeout);

 private:
  void initiate_record(const bus::v1::AuditEvent& event, boost::asio::any_io_executor ex,
                       boost::asio::any_completion_handler<void(bool)> handler);
  /// Numbers and queues under sequence_mu_: events enter the producer's queue (one partition,
  /// idempotent, so delivered in that order) in the order of their numbers.
  boost::system::error_code enqueue(bus::v1::AuditEvent& event,
                                    bus::Producer::OnDelivery on_delivery);

  bus::Producer& producer_;
  std::string topic_;
  GatewayProbe& probe_;
  AuditPublisherOptions options_;
  std::atomic<std::int64_t> undelivered_{0};
  std::mutex sequence_mu_;
  std::int64_t next_seq_ = 1;  // guarded by sequence_mu_
};

}  // namespace lgsp::gateway
