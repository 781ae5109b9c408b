#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>

#include <string>

#include "observability/metrics.hpp"

namespace lgsp::connectors {

/// The connector's metric families, all labelled by registry. Outcomes: ok, not_found,
/// bad_request, backend_error (replied), expired (dropped: deadline passed), undecodable
/// (dropped: not an envelope or no reply-to), reply_failed (reply could not be produced).
class ConnectorProbe {
 public:
  ConnectorProbe(obs::Metrics& metrics, const std::string& registry);

  void request(std::string_view outcome);
  void backend_latency(double seconds) { backend_seconds_.Observe(seconds); }

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  std::string registry_;
  prometheus::Counter& ok_;
  prometheus::Counter& not_found_;
  prometheus::Histogram& backend_seconds_;
};

}  // namespace lgsp::connectors
