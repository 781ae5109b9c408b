#include "http/admin_handler.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/json.hpp>

#include "http/request_id.hpp"

namespace lgsp::http {

namespace bhttp = boost::beast::http;

namespace {

/// Whether `address` is this machine (127.0.0.0/8, ::1, or IPv4 loopback mapped into IPv6).
bool from_loopback(const std::string& address) {
  boost::system::error_code ec;
  const auto a = boost::asio::ip::make_address(address, ec);
  if (ec) return false;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()).is_loopback();
  }
  return a.is_loopback();
}

}  // namespace

boost::asio::awaitable<Response> AdminHandler::handle(Request req, const PeerInfo& peer) {
  const std::string id = new_request_id();
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  const std::string_view target = req.target();
  const auto not_allowed = [&](const char* allow, std::string detail) {
    const Problem p = problem(Status::method_not_allowed, "method-not-allowed",
                              "Method not allowed", std::move(detail));
    Response res = make_problem_response(p, id, v, ka);
    res.set(bhttp::field::allow, allow);  // RFC 9110 §15.5.6
    return res;
  };
  if (const auto action = actions_.find(std::string(target)); action != actions_.end()) {
    if (req.method() != bhttp::verb::post)
      co_return not_allowed("POST", "use POST for " + action->first);
    // The admin port also serves Prometheus and the kubelet's probes, so it may listen
    // beyond loopback; actions change the process and are taken from the machine itself only.
    if (!from_loopback(peer.address)) {
      const Problem p = problem(Status::forbidden, "admin-loopback-only",
                                "Admin actions are taken from this machine only",
                                "POST " + action->first +
                                    " is accepted from a loopback address only (in Kubernetes: "
                                    "kubectl exec into the pod), or send the process SIGHUP");
      co_return make_problem_response(p, id, v, ka);
    }
    const std::string why = action->second();
    if (why.empty()) co_return make_json_response(Status::ok, R"({"status":"done"})", id, v, ka);
    const Problem p =
        problem(Status::unprocessable_entity, "action-failed", "The action failed", why);
    co_return make_problem_response(p, id, v, ka);
  }
  const bool known = target == "/healthz" || target == "/readyz" || target == "/metrics";
  if (known && req.method() != bhttp::verb::get) {
    co_return not_allowed("GET", std::string(target) + " answers GET only");
  }
  if (target == "/healthz") {
    co_return make_json_response(Status::ok, R"({"status":"ok"})", id, v, ka);
  }
  if (target == "/readyz") {
    const std::string why = ready_ ? ready_() : std::string{};
    if (why.empty()) co_return make_json_response(Status::ok, R"({"status":"ready"})", id, v, ka);
    co_return make_json_response(
        Status::service_unavailable,
        boost::json::serialize(boost::json::object{{"status", "not ready"}, {"reason", why}}), id,
        v, ka);
  }
  if (target == "/metrics") {
    Response res{Status::ok, v};
    res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.set(kRequestIdHeader, id);
    res.keep_alive(ka);
    res.body() = metrics_.serialize();
    res.prepare_payload();
    co_return res;
  }
  std::string endpoints = "admin endpoints: GET /healthz, /readyz, /metrics";
  for (const auto& [path, action] : actions_) endpoints += "; POST " + path;
  const Problem p = problem(Status::not_found, "not-found", "No such endpoint", endpoints);
  co_return make_problem_response(p, id, v, ka);
}

}  // namespace lgsp::http
