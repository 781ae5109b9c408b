#include "connectors/connector.hpp"

#include <unistd.h>
#include <chrono>
#include <stdexcept>

#include "bus/client_properties.hpp"
#include "observability/thread_name.hpp"
#include "registries/table.hpp"
#include "util/clock.hpp"

namespace lgsp::connectors {

namespace {

/// Commands on a SQLite file queue their changes in its own outbox; an upstream system's, in
/// the connector's (upstream.change_outbox).
std::string change_outbox(const config::RegistryConfig& rc, const registries::Module& module) {
  if (module.catalogue().commands.empty()) return {};
  if (rc.backend == "sqlite") return rc.sqlite_path;
  if (rc.backend == "upstream") return rc.upstream.change_outbox;
  return {};
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
  const registries::Module* module = registries::find(registry);
  if (module == nullptr) {
    throw std::runtime_error("no registry module named \"" + registry +
                             "\" (known: " + registries::known_names() + ")");
  }
  if (it->second.backend == "connector") {
    throw std::runtime_error(cfg.path + ": registries." + registry +
                             ".backend: connector names a registry other processes serve; the "
                             "connector serving it needs sqlite, postgres or upstream");
  }
  service_ = module->open(it->second, util::unix_ms_now);
  const std::string client_id = "lgsp-connector-" + registry + "-" + std::to_string(::getpid());
  RuntimeOptions options{bus::Topics{cfg.kafka.topic_prefix},
                         cfg.connector.group_id_prefix + "-" + registry,
                         bus::consumer_properties(cfg.kafka, bootstrap, client_id),
                         bus::producer_properties(cfg.kafka, bootstrap, client_id),
                         static_cast<std::int32_t>(cfg.kafka.reply_partitions),
                         bus::envelope_sealer(cfg.kafka, {registry}),
                         change_outbox(it->second, *module),
                         it->second.backend == "upstream"};
  runtime_ = std::make_unique<ConnectorRuntime>(std::move(options), *service_, probe_);
}

Connector::~Connector() { stop(); }

void Connector::start() {
  thread_ = std::jthread([this](const std::stop_token& st) {
    obs::name_this_thread("lgsp-" + std::string(service_->registry()));
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
