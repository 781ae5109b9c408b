#include "gateway/gateway.hpp"

#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>

#include "bus/client_properties.hpp"
#include "observability/log.hpp"

namespace lgsp::gateway {

namespace {

BusClientOptions bus_options(const config::Config& cfg, const std::string& bootstrap) {
  const std::string client_id =
      "lgsp-gateway-" + std::to_string(cfg.gateway.instance) + "-" + std::to_string(::getpid());
  std::vector<std::string> registries;
  for (const auto& [name, _] : cfg.registries) registries.push_back(name);
  return BusClientOptions{bus::Topics{cfg.kafka.topic_prefix},
                          static_cast<std::int32_t>(cfg.gateway.instance),
                          bus::producer_properties(cfg.kafka, bootstrap, client_id),
                          bus::consumer_properties(cfg.kafka, bootstrap, client_id),
                          static_cast<std::size_t>(cfg.gateway.max_pending),
                          std::move(registries)};
}

http::ServerLimits limits(const config::GatewayConfig& g) {
  return {
      static_cast<std::size_t>(g.body_limit_bytes), static_cast<std::size_t>(g.header_limit_bytes),
      std::chrono::milliseconds(g.read_timeout_ms), std::chrono::milliseconds(g.idle_timeout_ms)};
}

}  // namespace

Gateway::Gateway(const config::Config& cfg, const std::string& bootstrap, obs::Metrics& metrics,
                 http::AdminHandler::ReadinessCheck extra_readiness)
    : cfg_(cfg.gateway),
      probe_(metrics),
      bus_(bus_options(cfg, bootstrap), probe_),
      api_handler_(std::make_shared<ApiHandler>(
          std::make_shared<ApiKeyAuthenticator>(cfg.partners), bus_, probe_,
          std::chrono::milliseconds(cfg.gateway.request_deadline_ms))),
      extra_readiness_(std::move(extra_readiness)) {
  api_ = std::make_unique<http::Server>(ioc_, cfg_.listen, limits(cfg_), api_handler_);
  admin_ = std::make_unique<http::Server>(
      ioc_, cfg_.admin_listen, limits(cfg_),
      std::make_shared<http::AdminHandler>(metrics, [this] { return readiness(); }));
}

Gateway::~Gateway() { stop(); }

std::string Gateway::readiness() const {
  std::string why = bus_.readiness();
  if (why.empty() && extra_readiness_) why = extra_readiness_();
  return why;
}

void Gateway::start() {
  bus_.start();
  api_->start();
  admin_->start();
  const unsigned n = cfg_.threads > 0 ? static_cast<unsigned>(cfg_.threads)
                                      : std::max(1U, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this] { ioc_.run(); });
  obs::info("gateway_started",
            {{"listen", cfg_.listen.host + ":" + std::to_string(api_->port())},
             {"admin", cfg_.admin_listen.host + ":" + std::to_string(admin_->port())},
             {"threads", n},
             {"instance", cfg_.instance}});
}

void Gateway::stop() {
  if (stopped_) return;
  stopped_ = true;
  obs::info("gateway_stopping", {{"pending", bus_.pending()}});
  api_handler_->drain();
  api_->stop();
  // Exchanges in flight end by reply or by deadline; wait at most one deadline for them.
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg_.request_deadline_ms + 500);
  while (bus_.pending() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Let the responses of those last exchanges be written.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  bus_.stop();
  admin_->stop();
  // With both acceptors closed and every connection told to finish, the io_context runs
  // out of work and its threads return by themselves; force it after 2 s.
  const auto force_at = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!ioc_.stopped() && std::chrono::steady_clock::now() < force_at) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  obs::info("gateway_stopped");
}

}  // namespace lgsp::gateway
