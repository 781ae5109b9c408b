#include "http/admin_handler.hpp"

#include <boost/json.hpp>

#include "http/request_id.hpp"

namespace lgsp::http {

namespace bhttp = boost::beast::http;

boost::asio::awaitable<Response> AdminHandler::handle(Request req, const PeerInfo& /*peer*/) {
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
