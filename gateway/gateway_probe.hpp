#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <string>
#include <string_view>

#include "observability/metrics.hpp"

namespace lgsp::gateway {

/// The gateway's metric families (one list, Envoy-stats style). Labels are bounded: route is
/// one of the API's paths or "other", partner a configured id or "anonymous", status an HTTP
/// code, reason a fixed set. Thread-safe.
class GatewayProbe {
 public:
  explicit GatewayProbe(obs::Metrics& metrics);

  void request_done(std::string_view partner, std::string_view route, int status, double seconds);
  void rejected(std::string_view reason);
  prometheus::Gauge& in_flight() { return in_flight_; }
  prometheus::Gauge& pending_exchanges() { return pending_; }
  void reply_timeout() { timeouts_.Increment(); }
  void late_reply() { late_.Increment(); }
  void duplicate_reply() { duplicate_.Increment(); }
  void unknown_reply() { unknown_.Increment(); }
  /// A message on the reply partition that is not sealed with a key of ours for its context,
  /// or a reply sealed by a registry other than the one asked (forged or misrouted).
  void unauthenticated_reply() { unauthenticated_.Increment(); }
  void produce_error() { produce_errors_.Increment(); }
  /// Time from producing a request to the broker's acknowledgement.
  void delivered(double seconds) { delivery_.Observe(seconds); }
  /// One Kafka message published to a request topic, carrying `requests` requests (a bundle
  /// when more than one).
  void published(std::size_t requests) { bundle_.Observe(static_cast<double>(requests)); }
  /// The bus round trip of one registry (publish → matching reply), resolved once per
  /// registry by the bus client.
  prometheus::Histogram& exchange_duration(const std::string& registry);
  /// Audit events queued, delivered, and failed (could not be queued or delivered). Resolved
  /// once: these run on every request, where a label lookup would take the family's mutex.
  void audit_queued() { audit_queued_.Increment(); }
  void audit_delivered() { audit_delivered_.Increment(); }
  void audit_failed() { audit_failed_.Increment(); }
  /// An event acknowledged after its answer stopped waiting (the answer was refused, so the
  /// trail records an access that released nothing: the safe side).
  void audit_late() { audit_late_.Increment(); }
  /// Audit events sent and not yet acknowledged or failed.
  prometheus::Gauge& audit_undelivered() { return audit_undelivered_; }
  /// Time from sending an audit event to the cluster's acknowledgement (acks=all).
  void audit_acknowledged(double seconds) { audit_delivery_.Observe(seconds); }
  /// A verification refused because `partner` failed too many of that subject's (VerifyGuard).
  void verify_guard_refused(std::string_view partner);
  void reloaded(bool ok) { (ok ? reloads_ok_ : reloads_failed_).Increment(); }

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Counter>& rejections_;
  prometheus::Gauge& in_flight_;
  prometheus::Gauge& pending_;
  prometheus::Counter& timeouts_;
  prometheus::Counter& late_;
  prometheus::Counter& duplicate_;
  prometheus::Counter& unknown_;
  prometheus::Counter& unauthenticated_;
  prometheus::Counter& produce_errors_;
  prometheus::Histogram& delivery_;
  prometheus::Histogram& bundle_;
  prometheus::Family<prometheus::Histogram>& exchange_;
  prometheus::Family<prometheus::Counter>& audit_events_;
  prometheus::Counter& audit_queued_;
  prometheus::Counter& audit_delivered_;
  prometheus::Counter& audit_failed_;
  prometheus::Counter& audit_late_;
  prometheus::Gauge& audit_undelivered_;
  prometheus::Histogram& audit_delivery_;
  prometheus::Family<prometheus::Counter>& verify_guard_;
  prometheus::Counter& reloads_ok_;
  prometheus::Counter& reloads_failed_;
};

}  // namespace lgsp::gateway
