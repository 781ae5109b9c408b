#pragma once

#include <memory>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "connectors/connector_probe.hpp"
#include "connectors/registry_service.hpp"
#include "connectors/runtime.hpp"
#include "observability/metrics.hpp"

namespace lgsp::connectors {

/// One running connector for one registry: the registry module's service over the backend its
/// config names, the runtime on its own thread, and its probe.
///
/// Lifecycle: the constructor opens the backend (throws with a hint if it cannot);
/// start() launches the poll thread; stop() (and the destructor) ends it after flushing
/// replies and leaving the consumer group. Not copyable.
class Connector {
 public:
  Connector(const config::Config& cfg, const std::string& registry, const std::string& bootstrap,
            obs::Metrics& metrics);
  ~Connector();
  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;

  void start();
  void stop();
  /// "" when ready (joined its consumer group), else why not.
  std::string readiness() const;

 private:
  /// The registry module's service, owning its backend.
  std::unique_ptr<RegistryService> service_;
  ConnectorProbe probe_;
  std::unique_ptr<ConnectorRuntime> runtime_;
  std::jthread thread_;
};

}  // namespace lgsp::connectors
