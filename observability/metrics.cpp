#include "observability/metrics.hpp"

#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

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

std::string Metrics::serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace lgsp::obs
