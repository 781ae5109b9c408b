#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <vector>

#include <boost/json/object.hpp>
#include "app/commands.hpp"
#include "bus/embedded_cluster.hpp"

#include "bus/envelope.hpp"
#include "config/config.hpp"
#include "connectors/connector.hpp"
#include "gateway/gateway.hpp"
#include "observability/log.hpp"
#include "seed/seeder.hpp"

namespace lgsp::app {

std::unique_ptr<bus::EmbeddedCluster> start_embedded_cluster(const config::Config& cfg) {
  auto cluster =
      std::make_unique<bus::EmbeddedCluster>(static_cast<int>(cfg.kafka.embedded_brokers));
  const bus::Topics topics{cfg.kafka.topic_prefix};
  for (const auto& [name, _] : cfg.registries) {
    cluster->create_topic(topics.requests(name), static_cast<int>(cfg.kafka.request_partitions));
    cluster->create_topic(topics.batch_requests(name),
                          static_cast<int>(cfg.kafka.request_partitions));
  }
  cluster->create_topic(topics.replies(), static_cast<int>(cfg.kafka.reply_partitions));
  // One partition: the chain's order is the topic's order.
  cluster->create_topic(topics.audit(), 1);
  // One partition too: the change feed's cursor is its offset.
  cluster->create_topic(topics.changes(), 1);
  const std::string bootstrap = cluster->bootstraps();
  const auto dir = std::filesystem::path(cfg.kafka.bootstrap_file).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir);
  std::ofstream(cfg.kafka.bootstrap_file) << bootstrap << "\n";
  obs::info("embedded_cluster_started",
            {{"bootstrap", bootstrap}, {"bootstrap_file", cfg.kafka.bootstrap_file}});
  return cluster;
}

int run_broker(const std::string& config_path) {
  const config::Config cfg = config::load_config(config_path);
  obs::init_logging("lgsp-broker", cfg.log_level);
  if (cfg.kafka.bootstrap != "embedded") {
    std::cerr << config_path << ": kafka.bootstrap is \"" << cfg.kafka.bootstrap
              << "\": `lgsp broker` runs the embedded cluster, for kafka.bootstrap: embedded\n";
    return 2;
  }
  const sigset_t signals = block_stop_signals();
  const auto cluster = start_embedded_cluster(cfg);
  std::cerr << "lgsp broker: embedded Kafka-protocol cluster at " << cluster->bootstraps()
            << " (written to " << cfg.kafka.bootstrap_file << "; Ctrl-C stops it)\n";
  wait_for_signal(signals);
  std::filesystem::remove(cfg.kafka.bootstrap_file);
  obs::info("embedded_cluster_stopped");
  return 0;
}

int run_dev(const char* config_path) {
  const config::Config cfg = config::load_config(config_path);
  obs::init_logging("lgsp-dev", cfg.log_level);
  const sigset_t signals = block_stop_signals();

  // 1. The bus: the embedded Kafka-protocol cluster, unless a real one is configured.
  std::unique_ptr<bus::EmbeddedCluster> cluster;
  std::string bootstrap = cfg.kafka.bootstrap;
  if (bootstrap == "embedded") {
    cluster = start_embedded_cluster(cfg);
    bootstrap = cluster->bootstraps();
  }

  // 2. The registries: seeded on first start.
  if (const auto targets = seed::targets_from(cfg); seed::any_missing(targets)) {
    obs::info("seeding_registries", {{"citizens", cfg.seed.citizens}});
    const auto report = seed::seed_registries(targets, cfg.seed.citizens,
                                              static_cast<std::uint64_t>(cfg.seed.seed));
    boost::json::object rows;
    for (const auto& [name, n] : report.rows) rows[name] = n;
    obs::info("registries_seeded",
              {{"citizens", report.citizens}, {"rows", rows}, {"seconds", report.seconds}});
  }

  // 3. The audit writer, connectors, then the gateway, all sharing one metric registry and
  //    admin port.
  obs::Metrics metrics("dev");
  std::unique_ptr<audit::AuditWriter> audit_writer;
  if (cfg.audit.enabled) {
    audit_writer = std::make_unique<audit::AuditWriter>(audit_writer_options(cfg, bootstrap),
                                                        open_audit_store(cfg), metrics);
    audit_writer->start();
  }
  std::vector<std::unique_ptr<connectors::Connector>> conns;
  for (const auto& [name, _] : cfg.registries) {
    conns.push_back(std::make_unique<connectors::Connector>(cfg, name, bootstrap, metrics));
    conns.back()->start();
  }
  gateway::Gateway gw(cfg, bootstrap, metrics, [&conns, &audit_writer]() -> std::string {
    for (const auto& c : conns) {
      if (auto why = c->readiness(); !why.empty()) return "connector: " + why;
    }
    if (audit_writer) {
      if (auto why = audit_writer->readiness(); !why.empty()) return "audit writer: " + why;
    }
    return {};
  });
  gw.start();
  std::cerr << "\nlgsp dev is running (Ctrl-C stops it)\n"
            << "  API:    http://" << cfg.gateway.listen.host << ":" << gw.api_port() << "\n"
            << "  admin:  http://" << cfg.gateway.admin_listen.host << ":" << gw.admin_port()
            << "  (/healthz /readyz /metrics)\n"
            << "  Kafka:  " << bootstrap << "  (kcat -b " << bootstrap << " -L)\n\n";

  wait_for_signal(signals, [&gw] { gw.reload(); });
  gw.stop();
  for (auto& c : conns) c->stop();
  // The gateway has flushed its audit events to the topic; append them before exiting.
  if (audit_writer) audit_writer->drain_and_stop(std::chrono::seconds(5));
  if (cluster) std::filesystem::remove(cfg.kafka.bootstrap_file);
  obs::info("dev_stopped");
  return 0;
}

}  // namespace lgsp::app
