#include "connectors/connector_probe.hpp"

namespace lgsp::connectors {

namespace {

/// The record outcomes (lgsp_connector_batch_records_total), resolved at start so each series
/// exists (at 0) before the first bulk job, and a chunk's counts need no family lookup.
constexpr std::array<std::string_view, 5> kBatchOutcomes{"ok", "not_found", "bad_request",
                                                         "backend_error", "expired"};

}  // namespace

ConnectorProbe::ConnectorProbe(obs::Metrics& metrics, const std::string& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("lgsp_connector_requests_total")
                    .Help("Requests taken from the bus, by registry and outcome")
                    .Register(metrics.registry())),
      registry_(registry),
      ok_(requests_.Add({{"registry", registry}, {"outcome", "ok"}})),
      not_found_(requests_.Add({{"registry", registry}, {"outcome", "not_found"}})),
      batch_records_(prometheus::BuildCounter()
                         .Name("lgsp_connector_batch_records_total")
                         .Help("Bulk jobs' records answered or dropped, by registry and outcome")
                         .Register(metrics.registry())),
      batch_outcomes_{},
      backend_seconds_(
          prometheus::BuildHistogram()
              .Name("lgsp_connector_backend_query_duration_seconds")
              .Help("Time the registry backend took to answer one request or one bulk chunk")
              .Register(metrics.registry())
              .Add({{"registry", registry}},
                   prometheus::Histogram::BucketBoundaries{0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                                           0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                           0.25, 0.5, 1})),
      ready_(prometheus::BuildGauge()
                 .Name("lgsp_connector_ready")
                 .Help("1 while the consumer group has assigned this instance its partitions")
                 .Register(metrics.registry())
                 .Add({{"registry", registry}})),
      lag_(prometheus::BuildGauge()
               .Name("lgsp_connector_consumer_lag_messages")
               .Help("Requests waiting in this instance's partitions (librdkafka statistics)")
               .Register(metrics.registry())
               .Add({{"registry", registry}})),
      changes_(prometheus::BuildCounter()
                   .Name("lgsp_connector_changes_total")
                   .Help("Change events sent from the registry's outbox to the changes topic, "
                         "by registry and outcome (published, failed)")
                   .Register(metrics.registry())),
      changes_published_(changes_.Add({{"registry", registry}, {"outcome", "published"}})),
      changes_failed_(changes_.Add({{"registry", registry}, {"outcome", "failed"}})),
      outbox_(prometheus::BuildGauge()
                  .Name("lgsp_connector_change_outbox_messages")
                  .Help("Change events in the registry's outbox not yet acknowledged by the "
                        "cluster (read at each send)")
                  .Register(metrics.registry())
                  .Add({{"registry", registry}})) {
  for (std::size_t i = 0; i < kBatchOutcomes.size(); ++i) {
    batch_outcomes_.at(i) = &batch_records_.Add(
        {{"registry", registry}, {"outcome", std::string(kBatchOutcomes.at(i))}});
  }
}

void ConnectorProbe::request(std::string_view outcome) {
  // The two common outcomes are cached; rarer ones go through the family's lookup.
  if (outcome == "ok") return ok_.Increment();
  if (outcome == "not_found") return not_found_.Increment();
  requests_.Add({{"registry", registry_}, {"outcome", std::string(outcome)}}).Increment();
}

void ConnectorProbe::reply_failed(std::int64_t n, bool chunk) {
  if (chunk) return batch_records("reply_failed", n);
  requests_.Add({{"registry", registry_}, {"outcome", "reply_failed"}})
      .Increment(static_cast<double>(n));
}

void ConnectorProbe::batch_records(std::string_view outcome, std::int64_t n) {
  if (n <= 0) return;
  for (std::size_t i = 0; i < kBatchOutcomes.size(); ++i) {
    if (kBatchOutcomes.at(i) == outcome) {
      return batch_outcomes_.at(i)->Increment(static_cast<double>(n));
    }
  }
  batch_records_.Add({{"registry", registry_}, {"outcome", std::string(outcome)}})
      .Increment(static_cast<double>(n));
}

}  // namespace lgsp::connectors
