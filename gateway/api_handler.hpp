#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "gateway/auth.hpp"
#include "gateway/bus_client.hpp"
#include "gateway/gateway_probe.hpp"
#include "gateway/validation.hpp"
#include "http/server.hpp"

namespace lgsp::gateway {

/// The partner-facing API. Each request goes through one pipeline of small stages:
/// admission (draining) → route → authenticate → authorise → validate → field scope →
/// publish → await reply → respond. Every stage either continues or answers with
/// problem+json; every answer carries X-Request-Id and is counted by route, partner and
/// status. Thread-safe: one instance serves all connections.
class ApiHandler final : public http::Handler {
 public:
  ApiHandler(std::shared_ptr<const Authenticator> auth, BusClient& bus, GatewayProbe& probe,
             std::chrono::milliseconds deadline);

  boost::asio::awaitable<http::Response> handle(http::Request req) override;
  /// New requests get 503 from now on; those in flight finish.
  void drain() { draining_ = true; }

 private:
  struct Exchange;
  boost::asio::awaitable<http::Response> registry_call(Exchange& ex, ParsedRequest parsed);
  boost::asio::awaitable<http::Response> citizen_profile(Exchange& ex, ParsedRequest parsed);
  /// Fills partner identity, matching policy and deadline; lookups get their field scope
  /// (nullopt = allowed, else the problem to answer).
  std::optional<http::Problem> complete_envelope(const Exchange& ex, ParsedRequest& parsed) const;

  std::shared_ptr<const Authenticator> auth_;
  BusClient& bus_;
  GatewayProbe& probe_;
  std::chrono::milliseconds deadline_;
  std::atomic<bool> draining_{false};
};

}  // namespace lgsp::gateway
