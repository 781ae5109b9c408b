#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "observability/metrics.hpp"

namespace lgsp::connectors {

/// The connector's metric families, all labelled by registry.
/// Interactive requests' outcomes: ok, not_found, bad_request, backend_error (replied),
/// expired (dropped: deadline passed). Any message's (request or chunk): undecodable (dropped:
/// not an envelope or no reply-to), misdirected (dropped: its reply-to is not a partition of
/// the reply topic), unauthenticated (dropped: not sealed with the registry's key for its
/// topic and routing headers), reply_failed (reply could not be produced).
/// Bulk jobs' records (the items of a chunk): ok, not_found, bad_request, backend_error
/// (replied), expired (dropped with their chunk), reply_failed (their chunk's reply could
/// not be produced).
class ConnectorProbe {
 public:
  ConnectorProbe(obs::Metrics& metrics, const std::string& registry);

  void request(std::string_view outcome);
  /// A reply could not be produced: counts each of the `n` requests of its bundle, or with
  /// `chunk` each of the `n` records of its chunk, as reply_failed.
  void reply_failed(std::int64_t n, bool chunk);
  /// `n` records of a chunk ended with `outcome` (one of the record outcomes above).
  void batch_records(std::string_view outcome, std::int64_t n);
  /// One backend call: an interactive request, or a whole chunk.
  void backend_latency(double seconds) { backend_seconds_.Observe(seconds); }
  /// 1 while the consumer group has handed this instance its share, else 0.
  void ready(bool yes) { ready_.Set(yes ? 1 : 0); }
  /// Messages waiting in this instance's partitions (from librdkafka statistics).
  void lag(std::int64_t messages) { lag_.Set(static_cast<double>(messages)); }
  /// Change events sent from the registry's outbox: "published" (acknowledged by the
  /// cluster) or "failed" (sent again later); and how many wait in the outbox.
  void change(std::string_view outcome) {
    (outcome == "published" ? changes_published_ : changes_failed_).Increment();
  }
  void outbox(std::int64_t waiting) { outbox_.Set(static_cast<double>(waiting)); }

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  std::string registry_;
  prometheus::Counter& ok_;
  prometheus::Counter& not_found_;
  prometheus::Family<prometheus::Counter>& batch_records_;
  std::array<prometheus::Counter*, 5> batch_outcomes_;  // kBatchOutcomes' counters
  prometheus::Histogram& backend_seconds_;
  prometheus::Gauge& ready_;
  prometheus::Gauge& lag_;
  prometheus::Family<prometheus::Counter>& changes_;
  prometheus::Counter& changes_published_;
  prometheus::Counter& changes_failed_;
  prometheus::Gauge& outbox_;
};

}  // namespace lgsp::connectors
