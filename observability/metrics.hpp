#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

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
  /// Families computed at scrape time (a snapshot of state that lives elsewhere, such as
  /// quota use). Returns an id for remove_collector, which the owner must call before the
  /// state the collector reads goes away.
  using Collector = std::function<std::vector<prometheus::MetricFamily>()>;
  int add_collector(Collector collector);
  void remove_collector(int id);

  /// Prometheus text exposition format 0.0.4: the registry, the collectors, and the
  /// standard process_* families.
  std::string serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex collectors_mu_;
  std::map<int, Collector> collectors_;
  int next_collector_ = 0;
};

/// The version string compiled into the binary.
std::string_view version();

}  // namespace lgsp::obs
