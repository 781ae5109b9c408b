#include "gateway/api_handler.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <optional>

#include "domain/catalog.hpp"
#include "gateway/responses.hpp"
#include "gateway/trace_context.hpp"
#include "http/request_id.hpp"
#include "observability/log.hpp"

namespace lgsp::gateway {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
namespace v1 = bus::v1;
using http::Problem;
using http::Status;

/// Everything one request carries through the pipeline.
struct ApiHandler::Exchange {
  http::Request req;
  std::string request_id;
  std::string traceparent;
  const Partner* partner = nullptr;
  std::string_view route = "other";
  std::string_view registry;
  std::string_view operation;
};

namespace {

struct Route {
  std::string_view path;
  std::string_view registry;
  std::string_view operation;
};

constexpr Route kRoutes[] = {
    {"/v1/population/verify", "population", "verify"},
    {"/v1/population/lookup", "population", "lookup"},
    {"/v1/insurance/verify", "insurance", "verify"},
    {"/v1/insurance/lookup", "insurance", "lookup"},
    {"/v1/vehicle/verify", "vehicle", "verify"},
    {"/v1/vehicle/lookup", "vehicle", "lookup"},
    {"/v1/citizen-profile", "citizen", "profile"},
};

Problem problem(Status status, std::string type, std::string title, std::string detail) {
  return Problem{status, std::move(type), std::move(title), std::move(detail), {}};
}

/// The one place where bus-call errors become HTTP.
Problem call_problem(boost::system::error_code ec) {
  if (ec == CallErrc::kTimeout) {
    return problem(Status::gateway_timeout, "registry-timeout",
                   "The registry did not answer in time",
                   "no reply from the registry connector before the request deadline; retry later");
  }
  if (ec == CallErrc::kOverloaded) {
    return problem(Status::service_unavailable, "overloaded", "The gateway is overloaded",
                   "too many requests are awaiting registry replies; retry after a short pause");
  }
  if (ec == CallErrc::kStopped) {
    return problem(Status::service_unavailable, "shutting-down", "The gateway is shutting down",
                   "retry against another instance");
  }
  return problem(Status::service_unavailable, "bus-unavailable", "The message bus is unavailable",
                 "the request could not be published to the registry; retry later");
}

/// The one place where a registry's non-OK reply becomes HTTP.
Problem reply_problem(const v1::Reply& reply) {
  switch (reply.status()) {
    case v1::STATUS_NOT_FOUND:
      return problem(
          Status::not_found, "subject-not-found", "Subject not found",
          "the " + reply.source().registry() + " registry has no record for this subject");
    case v1::STATUS_BAD_REQUEST:
      return problem(Status::bad_request, "registry-rejected", "The registry rejected the request",
                     reply.detail());
    default:
      return problem(Status::bad_gateway, "registry-error", "The registry failed to answer",
                     "the " + reply.source().registry() +
                         " registry backend reported an error; it was logged");
  }
}

std::string_view auth_detail(AuthFailure f) {
  switch (f) {
    case AuthFailure::kMissing:
      return "send the partner API key as 'Authorization: Bearer <key>'";
    case AuthFailure::kMalformed:
      return "the Authorization header must be 'Bearer <key>'";
    default:
      return "the API key is not valid (revoked, mistyped, or for another environment)";
  }
}

}  // namespace

ApiHandler::ApiHandler(std::shared_ptr<const Authenticator> auth, BusClient& bus,
                       GatewayProbe& probe, std::chrono::milliseconds deadline)
    : auth_(std::move(auth)), bus_(bus), probe_(probe), deadline_(deadline) {}

asio::awaitable<http::Response> ApiHandler::handle(http::Request req) {
  const auto started = std::chrono::steady_clock::now();
  Exchange ex{std::move(req), http::new_request_id(), {}, nullptr, "other", {}, {}};
  ex.traceparent = continue_trace(ex.req[std::string_view("traceparent")]);
  probe_.in_flight().Increment();

  const std::string_view target = ex.req.target();
  for (const auto& r : kRoutes) {
    if (target == r.path) {
      ex.route = r.path;
      ex.registry = r.registry;
      ex.operation = r.operation;
    }
  }

  std::optional<Problem> refused;
  std::optional<ParsedRequest> parsed;
  if (draining_) {
    refused = problem(Status::service_unavailable, "shutting-down", "The gateway is shutting down",
                      "retry against another instance");
    probe_.rejected("draining");
  } else if (ex.operation.empty()) {
    refused = problem(Status::not_found, "not-found", "No such endpoint",
                      "see docs/api.md for the endpoints");
  } else if (ex.req.method() != bhttp::verb::post) {
    refused = problem(Status::method_not_allowed, "method-not-allowed", "Method not allowed",
                      "use POST: personal data never travels in URLs");
  } else if (const AuthResult auth = auth_->authenticate(ex.req[bhttp::field::authorization]);
             auth.partner == nullptr) {
    refused = problem(Status::unauthorized, "unauthenticated", "Authentication required",
                      std::string(auth_detail(auth.failure)));
    probe_.rejected("auth");
  } else if (ex.partner = auth.partner; !ex.partner->may(ex.registry, ex.operation)) {
    refused = problem(Status::forbidden, "operation-not-allowed", "Operation not allowed",
                      "partner '" + ex.partner->id + "' may not call " + std::string(ex.registry) +
                          "." + std::string(ex.operation));
    probe_.rejected("forbidden");
  } else if (ex.req[bhttp::field::content_type].substr(0, 16) != "application/json") {
    refused = problem(Status::unsupported_media_type, "unsupported-media-type",
                      "Unsupported media type", "send the body as Content-Type: application/json");
    probe_.rejected("validation");
  } else {
    auto result = parse_request(ex.registry, ex.operation, ex.req.body());
    if (auto* errors = std::get_if<std::vector<http::FieldError>>(&result)) {
      refused = http::validation_problem(std::move(*errors));
      probe_.rejected("validation");
    } else {
      parsed = std::move(std::get<ParsedRequest>(result));
    }
  }

  http::Response res;
  if (refused) {
    res =
        http::make_problem_response(*refused, ex.request_id, ex.req.version(), ex.req.keep_alive());
    if (refused->status == Status::unauthorized)
      res.set(bhttp::field::www_authenticate, "Bearer realm=\"lgsp\"");
    if (refused->status == Status::method_not_allowed) res.set(bhttp::field::allow, "POST");
  } else if (ex.registry == "citizen") {
    res = co_await citizen_profile(ex, std::move(*parsed));
  } else {
    res = co_await registry_call(ex, std::move(*parsed));
  }
  res.set("traceparent", ex.traceparent);

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const int status = static_cast<int>(res.result_int());
  const std::string_view partner =
      ex.partner != nullptr ? std::string_view(ex.partner->id) : "anonymous";
  probe_.in_flight().Decrement();
  probe_.request_done(partner, ex.route, status, seconds);
  // The access line: who asked what, never about whom (no subject, no personal data).
  obs::info("http_request", {{"request_id", ex.request_id},
                             {"partner", partner},
                             {"route", ex.route},
                             {"status", status},
                             {"duration_us", static_cast<std::int64_t>(seconds * 1e6)},
                             {"trace_id", trace_id_of(ex.traceparent)}});
  co_return res;
}

std::optional<Problem> ApiHandler::complete_envelope(const Exchange& ex,
                                                     ParsedRequest& parsed) const {
  auto& env = parsed.envelope;
  const Partner& partner = *ex.partner;
  env.set_request_id(ex.request_id);
  env.set_partner_id(partner.id);
  env.set_name_matching(partner.diacritic_insensitive ? v1::NAME_MATCHING_DIACRITIC_INSENSITIVE
                                                      : v1::NAME_MATCHING_STRICT);
  env.set_required_grade(partner.partial_is_enough ? v1::GRADE_PARTIAL : v1::GRADE_EXACT);
  env.set_deadline_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                               (std::chrono::system_clock::now() + deadline_).time_since_epoch())
                               .count());
  if (env.operation() != v1::OPERATION_LOOKUP) return std::nullopt;

  const auto& granted = partner.fields_of(env.registry());
  std::vector<std::string> fields;
  if (parsed.fields) {
    Problem p = problem(Status::forbidden, "field-not-allowed", "Field not allowed",
                        "the request names fields this partner is not granted");
    for (const auto& f : *parsed.fields) {
      if (!granted.contains(f))
        p.errors.push_back({"fields", "partner may not receive '" + f + "'"});
    }
    if (!p.errors.empty()) return p;
    fields = *parsed.fields;
  } else {
    fields.assign(granted.begin(), granted.end());
  }
  if (fields.empty()) {
    return problem(Status::forbidden, "field-not-allowed", "Field not allowed",
                   "partner '" + partner.id + "' is granted no " + env.registry() + " fields");
  }
  env.clear_fields();
  for (auto& f : fields) env.add_fields(std::move(f));
  return std::nullopt;
}

asio::awaitable<http::Response> ApiHandler::registry_call(Exchange& ex, ParsedRequest parsed) {
  const unsigned version = ex.req.version();
  const bool keep_alive = ex.req.keep_alive();
  if (auto refused = complete_envelope(ex, parsed)) {
    probe_.rejected("forbidden");
    co_return http::make_problem_response(*refused, ex.request_id, version, keep_alive);
  }
  const bool verify = parsed.envelope.operation() == v1::OPERATION_VERIFY;
  auto [ec, reply] = co_await bus_.async_call(std::move(parsed.envelope), ex.traceparent,
                                              std::chrono::steady_clock::now() + deadline_,
                                              asio::as_tuple(asio::use_awaitable));
  if (ec)
    co_return http::make_problem_response(call_problem(ec), ex.request_id, version, keep_alive);
  if (reply.status() != v1::STATUS_OK) {
    co_return http::make_problem_response(reply_problem(reply), ex.request_id, version, keep_alive);
  }
  co_return http::make_json_response(Status::ok, verify ? verify_body(reply) : lookup_body(reply),
                                     ex.request_id, version, keep_alive);
}

asio::awaitable<http::Response> ApiHandler::citizen_profile(Exchange& ex, ParsedRequest parsed) {
  const unsigned version = ex.req.version();
  const bool keep_alive = ex.req.keep_alive();
  const Partner& partner = *ex.partner;

  // The registries this partner may look up and has fields in (or those it asked for).
  std::vector<std::string> registries;
  for (const auto& reg : domain::registries()) {
    const std::string name(reg.name);
    const bool asked = parsed.registries.empty() ||
                       std::find(parsed.registries.begin(), parsed.registries.end(), name) !=
                           parsed.registries.end();
    if (asked && partner.may(name, "lookup") && !partner.fields_of(name).empty())
      registries.push_back(name);
  }
  if (registries.empty()) {
    probe_.rejected("forbidden");
    co_return http::make_problem_response(
        problem(Status::forbidden, "operation-not-allowed", "No registry allowed",
                "partner '" + partner.id + "' may look up none of the registries asked for"),
        ex.request_id, version, keep_alive);
  }

  // One lookup per registry, all published at once; each completes by reply, error or the
  // shared deadline, so the profile answers within the deadline whatever a registry does.
  struct Part {
    boost::system::error_code ec;
    v1::Reply reply;
  };
  auto executor = co_await asio::this_coro::executor;
  std::vector<Part> parts(registries.size());
  std::size_t remaining = registries.size();
  const auto deadline = std::chrono::steady_clock::now() + deadline_;
  // Woken by the last part; the expiry is only a backstop (every part ends by `deadline`).
  asio::steady_timer all_done(executor, deadline + std::chrono::seconds(1));
  for (std::size_t i = 0; i < registries.size(); ++i) {
    ParsedRequest sub;
    sub.envelope = parsed.envelope;
    sub.envelope.set_registry(registries[i]);
    sub.envelope.set_operation(v1::OPERATION_LOOKUP);
    complete_envelope(ex, sub);  // cannot refuse: no explicit fields, and fields exist
    // Distinct ids per part, traceable to the profile's request id.
    sub.envelope.set_request_id(ex.request_id + "-" + registries[i]);
    bus_.async_call(
        std::move(sub.envelope), ex.traceparent, deadline,
        asio::bind_executor(executor, [&, i](boost::system::error_code ec, v1::Reply reply) {
          parts[i] = Part{ec, std::move(reply)};
          if (--remaining == 0) all_done.cancel();
        }));
  }
  co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));

  bool partial = false;
  json::object out{{"request_id", ex.request_id}};
  json::object sources;
  for (std::size_t i = 0; i < registries.size(); ++i) {
    const Part& p = parts[i];
    json::object part;
    if (p.ec) {
      partial = true;
      part["status"] = "unavailable";
      part["detail"] = p.ec.message();
    } else if (p.reply.status() == v1::STATUS_OK) {
      part["status"] = "ok";
      for (auto& kv : lookup_members(p.reply)) part[kv.key()] = kv.value();
    } else if (p.reply.status() == v1::STATUS_NOT_FOUND) {
      part["status"] = "not_found";
    } else {
      partial = true;
      part["status"] = "unavailable";
      part["detail"] = "the registry backend reported an error";
    }
    sources[registries[i]] = std::move(part);
  }
  out["partial"] = partial;
  out["parts"] = std::move(sources);
  co_return http::make_json_response(Status::ok, json::serialize(out), ex.request_id, version,
                                     keep_alive);
}

}  // namespace lgsp::gateway
