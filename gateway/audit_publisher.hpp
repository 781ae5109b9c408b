#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "bus/envelope.hpp"
#include "bus/producer.hpp"
#include "gateway/gateway_probe.hpp"
#include "util/hashing.hpp"

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

/// Sends one audit event per request to the audit topic, keyed by request id, through the
/// gateway's producer (which the gateway configures acks=all and idempotent). The response
/// does not wait for delivery, but it is only sent once its event is queued: publish()
/// returning false means the event could not be queued and the caller must not release
/// data. flush() at stop delivers what is queued, so a graceful stop loses no event.
/// Thread-safe. The producer must outlive it.
class AuditPublisher {
 public:
  AuditPublisher(bus::Producer& producer, std::string topic, GatewayProbe& probe);
  /// Fetches the topic's metadata (so the first event does not wait for it).
  void start();
  bool publish(const bus::v1::AuditEvent& event);
  /// Waits until every queued event is delivered (true) or `timeout` passes (false).
  bool flush(std::chrono::milliseconds timeout);
  int outstanding() const { return producer_.outstanding(); }

 private:
  bus::Producer& producer_;
  std::string topic_;
  GatewayProbe& probe_;
};

}  // namespace lgsp::gateway
