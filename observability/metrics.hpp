#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <string_view>

namespace lgsp::obs {

/// The metric registry of one process (gateway, connector, or the dev process hosting both).
/// Probes register their families here at construction; the admin endpoint serialises it.
/// Thread-safe: prometheus-cpp metrics are atomic, families are created at start only.
class Metrics {
 public:
  explicit Metrics(std::string_view process);

  prometheus::Registry& registry() { return *registry_; }

  /// An unlabelled counter or gauge: one family with its one series.
  prometheus::Counter& counter(const std::string& name, const std::string& help);
  prometheus::Gauge& gauge(const std::string& name, const std::string& help);
  /// Prometheus text exposition format 0.0.4.
  std::string serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
};

/// The version string compiled into the binary.
std::string_view version();

}  // namespace lgsp::obs
