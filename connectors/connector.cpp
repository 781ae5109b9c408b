#include "connectors/connector.hpp"

#include <unistd.h>
#include <chrono>
#include <stdexcept>

#include "bus/client_properties.hpp"
#include "connectors/backends/sqlite_population_store.hpp"
#include "connectors/population/population_service.hpp"

namespace lgsp::connectors {

struct Connector::Backend {
  std::unique_ptr<PopulationStore> store;
  std::unique_ptr<RegistryService> service;
};

Connector::Connector(const config::Config& cfg, const std::string& registry,
                     const std::string& bootstrap, obs::Metrics& metrics)
    : probe_(metrics, registry) {
  const auto it = cfg.registries.find(registry);
  if (it == cfg.registries.end()) {
    throw std::runtime_error(cfg.path + ": registries." + registry +
                             " is not configured; add its backend settings");
  }
  backend_ = std::make_unique<Backend>();
  if (registry != "population") {
    throw std::runtime_error("registry " + registry + " has no connector yet");
  }
  backend_->store = std::make_unique<SqlitePopulationStore>(it->second.sqlite_path);
  backend_->service = std::make_unique<population::PopulationService>(*backend_->store, [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  });
  const std::string client_id = "lgsp-connector-" + registry + "-" + std::to_string(::getpid());
  RuntimeOptions options{bus::Topics{cfg.kafka.topic_prefix},
                         cfg.connector.group_id_prefix + "-" + registry,
                         bus::consumer_properties(cfg.kafka, bootstrap, client_id),
                         bus::producer_properties(cfg.kafka, bootstrap, client_id)};
  runtime_ = std::make_unique<ConnectorRuntime>(std::move(options), *backend_->service, probe_);
}

Connector::~Connector() { stop(); }

void Connector::start() {
  thread_ = std::jthread([this](const std::stop_token& st) { runtime_->run(st); });
}

void Connector::stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

std::string Connector::readiness() const {
  return runtime_->joined() ? std::string{} : "waiting for the consumer group to assign partitions";
}

}  // namespace lgsp::connectors
