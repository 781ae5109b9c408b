#pragma once

#include <functional>
#include <string>

#include "http/server.hpp"
#include "observability/metrics.hpp"

namespace lgsp::http {

/// The admin endpoints of every process: GET /healthz (the process runs), GET /readyz (it
/// can do its job: `ready` returns false and a reason otherwise) and GET /metrics
/// (Prometheus text format). Lives as long as the Server that uses it.
class AdminHandler final : public Handler {
 public:
  /// Returns an empty string when ready, else why not (shown in the 503 body).
  using ReadinessCheck = std::function<std::string()>;

  AdminHandler(obs::Metrics& metrics, ReadinessCheck ready)
      : metrics_(metrics), ready_(std::move(ready)) {}

  boost::asio::awaitable<Response> handle(Request req) override;

 private:
  obs::Metrics& metrics_;
  ReadinessCheck ready_;
};

}  // namespace lgsp::http
