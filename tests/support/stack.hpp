#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bus/embedded_cluster.hpp"
#include "config/config.hpp"
#include "connectors/connector.hpp"
#include "domain/citizen.hpp"
#include "gateway/gateway.hpp"
#include "observability/metrics.hpp"

namespace lgsp::testing {

/// Keys of the partners every test stack configures.
inline constexpr const char* kMinistryKey = "test-ministry-key";  // verify + lookup, 3 fields
inline constexpr const char* kTelecomKey = "test-telecom-key";    // verify only, no fields

struct StackOptions {
  bool start_connector = true;
  std::int64_t deadline_ms = 3000;
  std::int64_t citizens = 2000;
  std::int64_t body_limit = 8192;
};

/// The real stack in-process for integration tests: embedded Kafka-protocol cluster on
/// loopback (real wire protocol), a seeded SQLite registry in a temp dir, the population
/// connector and the gateway on free ports. Unique topic prefix per stack, so stacks never
/// see each other's messages.
class TestStack {
 public:
  explicit TestStack(StackOptions options = {});
  ~TestStack();

  void start_connector();
  void stop_connector();
  std::uint16_t api_port() const { return gateway->api_port(); }
  std::uint16_t admin_port() const { return gateway->admin_port(); }
  /// Seeded citizens, spread over the registry.
  std::vector<domain::CitizenRecord> subjects(std::int64_t n) const;

  std::filesystem::path dir;
  config::Config cfg;
  std::unique_ptr<bus::EmbeddedCluster> cluster;
  std::string bootstrap;
  obs::Metrics metrics{"test"};
  std::unique_ptr<connectors::Connector> connector;
  std::unique_ptr<gateway::Gateway> gateway;
};

}  // namespace lgsp::testing
