#pragma once

#include <functional>
#include <map>
#include <string>

#include "http/server.hpp"
#include "observability/metrics.hpp"

namespace lgsp::http {

/// The admin endpoints of every process: GET /healthz (the process runs), GET /readyz (it
/// can do its job: `ready` returns false and a reason otherwise) and GET /metrics
/// (Prometheus text format), plus POST actions a process registers (the gateway's
/// /admin/reload), which are taken from a loopback address only (403 otherwise): the port
/// may listen beyond loopback for Prometheus and probes. Lives as long as the Server that
/// uses it.
class AdminHandler final : public Handler {
 public:
  /// Returns an empty string when ready, else why not (shown in the 503 body).
  using ReadinessCheck = std::function<std::string()>;

  /// A POST action: returns an empty string on success, else why it failed (422 body).
  using Action = std::function<std::string()>;

  AdminHandler(obs::Metrics& metrics, ReadinessCheck ready,
               std::map<std::string, Action> actions = {})
      : metrics_(metrics), ready_(std::move(ready)), actions_(std::move(actions)) {}

  boost::asio::awaitable<Response> handle(Request req, const PeerInfo& peer) override;

 private:
  obs::Metrics& metrics_;
  ReadinessCheck ready_;
  std::map<std::string, Action> actions_;
};

}  // namespace lgsp::http
