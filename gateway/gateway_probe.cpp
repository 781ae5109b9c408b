#include "gateway/gateway_probe.hpp"

namespace lgsp::gateway {

namespace {
const prometheus::Histogram::BucketBoundaries kLatencyBuckets{
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
// The bus legs are shorter than a whole request: start at 100 µs.
const prometheus::Histogram::BucketBoundaries kBusBuckets{
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
}  // namespace

GatewayProbe::GatewayProbe(obs::Metrics& m)
    : requests_(prometheus::BuildCounter()
                    .Name("lgsp_gateway_requests_total")
                    .Help("HTTP requests answered, by partner, route and status code")
                    .Register(m.registry())),
      duration_(prometheus::BuildHistogram()
                    .Name("lgsp_gateway_request_duration_seconds")
                    .Help("Time from a complete request to its response, by partner and route")
                    .Register(m.registry())),
      rejections_(prometheus::BuildCounter()
                      .Name("lgsp_gateway_rejections_total")
                      .Help("Requests refused before reaching the bus, by reason")
                      .Register(m.registry())),
      in_flight_(m.gauge("lgsp_gateway_in_flight_requests", "Requests being handled now")),
      pending_(m.gauge("lgsp_gateway_pending_exchanges",
                       "Requests published to the bus and awaiting their reply")),
      timeouts_(m.counter("lgsp_gateway_reply_timeouts_total",
                          "Exchanges whose deadline passed before the reply (answered 504)")),
      late_(m.counter("lgsp_gateway_late_replies_total",
                      "Replies that arrived after their exchange timed out (dropped)")),
      duplicate_(m.counter("lgsp_gateway_duplicate_replies_total",
                           "Second replies for an already answered exchange (dropped)")),
      unknown_(m.counter("lgsp_gateway_unmatched_replies_total",
                         "Replies matching no exchange this instance remembers (dropped)")),
      unauthenticated_(m.counter(
          "lgsp_gateway_unauthenticated_replies_total",
          "Reply messages not sealed by the asked registry's key for this partition (dropped)")),
      produce_errors_(m.counter("lgsp_gateway_bus_produce_errors_total",
                                "Requests the bus refused or failed to deliver (answered 503)")),
      delivery_(prometheus::BuildHistogram()
                    .Name("lgsp_gateway_bus_delivery_duration_seconds")
                    .Help("Time from producing a request to the broker's acknowledgement")
                    .Register(m.registry())
                    .Add({}, kBusBuckets)),
      bundle_(
          prometheus::BuildHistogram()
              .Name("lgsp_gateway_bus_requests_per_message")
              .Help("Requests per Kafka message published to the request topics (requests "
                    "published together to one partition travel as one bundle)")
              .Register(m.registry())
              .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256})),
      exchange_(prometheus::BuildHistogram()
                    .Name("lgsp_gateway_bus_exchange_duration_seconds")
                    .Help("Time from publishing a request to its reply, by registry")
                    .Register(m.registry())),
      audit_events_(prometheus::BuildCounter()
                        .Name("lgsp_gateway_audit_events_total")
                        .Help("Audit events by result: queued, delivered, failed, late "
                              "(acknowledged after its answer was refused)")
                        .Register(m.registry())),
      audit_queued_(audit_events_.Add({{"result", "queued"}})),
      audit_delivered_(audit_events_.Add({{"result", "delivered"}})),
      audit_failed_(audit_events_.Add({{"result", "failed"}})),
      audit_late_(audit_events_.Add({{"result", "late"}})),
      audit_undelivered_(m.gauge("lgsp_gateway_audit_undelivered_events",
                                 "Audit events sent and not yet acknowledged by the cluster")),
      audit_delivery_(prometheus::BuildHistogram()
                          .Name("lgsp_gateway_audit_delivery_duration_seconds")
                          .Help("Time from sending an audit event to the cluster's "
                                "acknowledgement (acks=all); data-bearing answers wait for it")
                          .Register(m.registry())
                          .Add({}, kBusBuckets)),
      verify_guard_(prometheus::BuildCounter()
                        .Name("lgsp_gateway_verify_guard_refusals_total")
                        .Help("Verifications refused because the partner failed too many of "
                              "that subject's within gateway.failed_verify_window_s (guessing)")
                        .Register(m.registry())),
      reloads_ok_(m.counter("lgsp_gateway_config_reloads_total",
                            "Configuration reloads (SIGHUP or /admin/reload) that took effect")),
      reloads_failed_(m.counter("lgsp_gateway_config_reload_failures_total",
                                "Configuration reloads refused (invalid config; old one kept)")) {}

void GatewayProbe::request_done(std::string_view partner, std::string_view route, int status,
                                double seconds) {
  requests_
      .Add({{"partner", std::string(partner)},
            {"route", std::string(route)},
            {"status", std::to_string(status)}})
      .Increment();
  duration_.Add({{"partner", std::string(partner)}, {"route", std::string(route)}}, kLatencyBuckets)
      .Observe(seconds);
}

prometheus::Histogram& GatewayProbe::exchange_duration(const std::string& registry) {
  return exchange_.Add({{"registry", registry}}, kBusBuckets);
}

void GatewayProbe::verify_guard_refused(std::string_view partner) {
  verify_guard_.Add({{"partner", std::string(partner)}}).Increment();
  rejected("verify_attempts");
}

void GatewayProbe::rejected(std::string_view reason) {
  rejections_.Add({{"reason", std::string(reason)}}).Increment();
}

}  // namespace lgsp::gateway
