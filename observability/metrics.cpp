#include "observability/metrics.hpp"

#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

#include "observability/process_metrics.hpp"

namespace lgsp::obs {

std::string_view version() { return LGSP_VERSION; }

Metrics::Metrics(std::string_view process) : registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::BuildGauge()
      .Name("lgsp_build_info")
      .Help("Build information; always 1")
      .Register(*registry_)
      .Add({{"version", std::string(version())}, {"process", std::string(process)}})
      .Set(1);
}

prometheus::Counter& Metrics::counter(const std::string& name, const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(*registry_).Add({});
}

prometheus::Gauge& Metrics::gauge(const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(*registry_).Add({});
}

int Metrics::add_collector(Collector collector) {
  std::lock_guard lock(collectors_mu_);
  collectors_.emplace(next_collector_, std::move(collector));
  return next_collector_++;
}

void Metrics::remove_collector(int id) {
  std::lock_guard lock(collectors_mu_);
  collectors_.erase(id);
}

std::string Metrics::serialize() const {
  auto families = registry_->Collect();
  {
    std::lock_guard lock(collectors_mu_);
    for (const auto& [id, collect] : collectors_) {
      auto more = collect();
      families.insert(families.end(), std::make_move_iterator(more.begin()),
                      std::make_move_iterator(more.end()));
    }
  }
  auto process = collect_process_metrics();
  families.insert(families.end(), std::make_move_iterator(process.begin()),
                  std::make_move_iterator(process.end()));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace lgsp::obs
