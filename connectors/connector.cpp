#include "connectors/connector.hpp"

#include <unistd.h>
#include <chrono>
#include <stdexcept>

#include "bus/client_properties.hpp"
#include "connectors/backends/factory.hpp"
#include "connectors/insurance/insurance_service.hpp"
#include "connectors/population/population_service.hpp"
#include "connectors/vehicle/vehicle_service.hpp"
#include "observability/thread_name.hpp"

namespace lgsp::connectors {

struct Connector::Backend {
  // The store the service reads; exactly one is set.
  std::unique_ptr<PopulationStore> population;
  std::unique_ptr<InsuranceStore> insurance;
  std::unique_ptr<VehicleStore> vehicle;
  std::unique_ptr<RegistryService> service;
};

namespace {

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<Connector::Backend> make_backend(const std::string& registry,
                                                 const config::RegistryConfig& rc) {
  auto b = std::make_unique<Connector::Backend>();
  if (registry == "population") {
    b->population = open_population_store(rc);
    b->service = std::make_unique<population::PopulationService>(*b->population, now_unix_ms);
  } else if (registry == "insurance") {
    b->insurance = open_insurance_store(rc);
    b->service = std::make_unique<insurance::InsuranceService>(*b->insurance, now_unix_ms);
  } else if (registry == "vehicle") {
    b->vehicle = open_vehicle_store(rc);
    b->service = std::make_unique<vehicle::VehicleService>(*b->vehicle, now_unix_ms);
  } else {
    throw std::runtime_error("no connector for registry \"" + registry + "\"");
  }
  return b;
}

}  // namespace

Connector::Connector(const config::Config& cfg, const std::string& registry,
                     const std::string& bootstrap, obs::Metrics& metrics)
    : probe_(metrics, registry) {
  const auto it = cfg.registries.find(registry);
  if (it == cfg.registries.end()) {
    throw std::runtime_error(cfg.path + ": registries." + registry +
                             " is not configured; add its backend settings");
  }
  backend_ = make_backend(registry, it->second);
  const std::string client_id = "lgsp-connector-" + registry + "-" + std::to_string(::getpid());
  RuntimeOptions options{bus::Topics{cfg.kafka.topic_prefix},
                         cfg.connector.group_id_prefix + "-" + registry,
                         bus::consumer_properties(cfg.kafka, bootstrap, client_id),
                         bus::producer_properties(cfg.kafka, bootstrap, client_id)};
  runtime_ = std::make_unique<ConnectorRuntime>(std::move(options), *backend_->service, probe_);
}

Connector::~Connector() { stop(); }

void Connector::start() {
  thread_ = std::jthread([this](const std::stop_token& st) {
    obs::name_this_thread("lgsp-" + std::string(backend_->service->registry()));
    runtime_->run(st);
  });
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
