#include "tests/support/stack.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "bus/envelope.hpp"
#include "connectors/backends/sqlite_population_store.hpp"
#include "domain/hashing.hpp"
#include "observability/log.hpp"
#include "seed/seeder.hpp"

namespace lgsp::testing {

namespace {
std::atomic<int> g_counter{0};
}

TestStack::TestStack(StackOptions options) {
  const int n = g_counter++;
  dir = std::filesystem::temp_directory_path() /
        ("lgsp-it-" + std::to_string(::getpid()) + "-" + std::to_string(n));
  std::filesystem::create_directories(dir);
  const std::string prefix = "t" + std::to_string(::getpid()) + "n" + std::to_string(n);
  const std::string yaml =
      "kafka:\n"
      "  bootstrap: embedded\n"
      "  topic_prefix: " +
      prefix +
      "\n"
      "  request_partitions: 4\n"
      "  reply_partitions: 2\n"
      "  producer_properties: {linger.ms: '1'}\n"
      "  consumer_properties: {fetch.wait.max.ms: '5', session.timeout.ms: '6000', "
      "heartbeat.interval.ms: '500'}\n"
      "gateway:\n"
      "  listen: 127.0.0.1:0\n"
      "  admin_listen: 127.0.0.1:0\n"
      "  threads: 2\n"
      "  instance: 1\n"
      "  body_limit_bytes: " +
      std::to_string(options.body_limit) +
      "\n"
      "  request_deadline_ms: " +
      std::to_string(options.deadline_ms) +
      "\n"
      "connector:\n"
      "  group_id_prefix: " +
      prefix +
      "-connector\n"
      "registries:\n"
      "  population: {backend: sqlite, sqlite_path: " +
      (dir / "population.db").string() +
      "}\n"
      "logging: {level: warn}\n"
      "partners:\n"
      "  - id: ministry\n"
      "    api_key_sha256: [" +
      domain::sha256_hex(kMinistryKey) +
      "]\n"
      "    operations: [population.verify, population.lookup]\n"
      "    fields: {population: [full_name, date_of_birth, gender]}\n"
      "  - id: telecom\n"
      "    api_key_sha256: [" +
      domain::sha256_hex(kTelecomKey) +
      "]\n"
      "    operations: [population.verify]\n";
  cfg = config::parse_config(yaml, "test-stack.yaml");
  obs::init_logging("test", cfg.log_level);

  seed::seed_population_sqlite(cfg.registries.at("population").sqlite_path, options.citizens, 11);
  cluster = std::make_unique<bus::EmbeddedCluster>(1);
  const bus::Topics topics{prefix};
  cluster->create_topic(topics.requests("population"), 4);
  cluster->create_topic(topics.replies(), 2);
  bootstrap = cluster->bootstraps();

  if (options.start_connector) start_connector();
  gateway = std::make_unique<gateway::Gateway>(cfg, bootstrap, metrics);
  gateway->start();
}

TestStack::~TestStack() {
  if (gateway) gateway->stop();
  stop_connector();
  gateway.reset();
  cluster.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

void TestStack::start_connector() {
  connector = std::make_unique<connectors::Connector>(cfg, "population", bootstrap, metrics);
  connector->start();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!connector->readiness().empty() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(connector->readiness(), "") << "connector did not join its group in 20 s";
}

void TestStack::stop_connector() {
  if (connector) connector->stop();
  connector.reset();
}

std::vector<domain::CitizenRecord> TestStack::subjects(std::int64_t n) const {
  connectors::SqlitePopulationStore store(cfg.registries.at("population").sqlite_path);
  return store.samples(n);
}

}  // namespace lgsp::testing
