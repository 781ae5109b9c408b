#include "gateway/api_handler.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

#include "gateway/responses.hpp"
#include "gateway/trace_context.hpp"
#include "gateway/validation.hpp"
#include "http/request_id.hpp"
#include "observability/log.hpp"

namespace lgsp::gateway {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
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
};

namespace {

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
  Exchange ex{std::move(req), http::new_request_id(), {}, nullptr, "other"};
  ex.traceparent = continue_trace(ex.req[std::string_view("traceparent")]);
  probe_.in_flight().Increment();

  std::optional<Problem> refused;
  http::Response res;
  const std::string_view target = ex.req.target();
  std::string_view operation;
  if (target == "/v1/population/verify") {
    ex.route = "/v1/population/verify";
    operation = "verify";
  } else if (target == "/v1/population/lookup") {
    ex.route = "/v1/population/lookup";
    operation = "lookup";
  }

  if (draining_) {
    refused = problem(Status::service_unavailable, "shutting-down", "The gateway is shutting down",
                      "retry against another instance");
    probe_.rejected("draining");
  } else if (operation.empty()) {
    refused = problem(
        Status::not_found, "not-found", "No such endpoint",
        "see docs/api.md for the endpoints (POST /v1/population/verify, /v1/population/lookup)");
  } else if (ex.req.method() != bhttp::verb::post) {
    refused = problem(Status::method_not_allowed, "method-not-allowed", "Method not allowed",
                      "use POST: personal data never travels in URLs");
  } else {
    const AuthResult auth = auth_->authenticate(ex.req[bhttp::field::authorization]);
    ex.partner = auth.partner;
    if (ex.partner == nullptr) {
      refused = problem(Status::unauthorized, "unauthenticated", "Authentication required",
                        std::string(auth_detail(auth.failure)));
      probe_.rejected("auth");
    } else if (!ex.partner->may("population", operation)) {
      refused = problem(
          Status::forbidden, "operation-not-allowed", "Operation not allowed",
          "partner '" + ex.partner->id + "' may not call population." + std::string(operation));
      probe_.rejected("forbidden");
    } else if (ex.req[bhttp::field::content_type].substr(0, 16) != "application/json") {
      refused =
          problem(Status::unsupported_media_type, "unsupported-media-type",
                  "Unsupported media type", "send the body as Content-Type: application/json");
      probe_.rejected("validation");
    }
  }

  if (refused) {
    res =
        http::make_problem_response(*refused, ex.request_id, ex.req.version(), ex.req.keep_alive());
    if (refused->status == Status::unauthorized)
      res.set(bhttp::field::www_authenticate, "Bearer realm=\"lgsp\"");
    if (refused->status == Status::method_not_allowed) res.set(bhttp::field::allow, "POST");
  } else {
    res = co_await population(ex, operation);
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

asio::awaitable<http::Response> ApiHandler::population(Exchange& ex, std::string_view operation) {
  const unsigned version = ex.req.version();
  const bool keep_alive = ex.req.keep_alive();
  const Partner& partner = *ex.partner;

  v1::Request env;
  env.set_request_id(ex.request_id);
  env.set_registry("population");
  env.set_partner_id(partner.id);

  const auto reject = [&](const Problem& p, std::string_view reason) {
    probe_.rejected(reason);
    return http::make_problem_response(p, ex.request_id, version, keep_alive);
  };

  if (operation == "verify") {
    auto parsed = parse_population_verify(ex.req.body());
    if (auto* errors = std::get_if<std::vector<http::FieldError>>(&parsed)) {
      co_return reject(http::validation_problem(std::move(*errors)), "validation");
    }
    auto& in = std::get<VerifyInput>(parsed);
    env.set_operation(v1::OPERATION_VERIFY);
    env.set_citizen_id(in.citizen_id);
    env.set_purpose(in.who.purpose);
    env.set_on_behalf_of(in.who.on_behalf_of);
    env.set_procedure_code(in.who.procedure_code);
    if (in.full_name) env.mutable_claims()->set_full_name(*in.full_name);
    if (in.date_of_birth) env.mutable_claims()->set_date_of_birth(*in.date_of_birth);
    if (in.gender) env.mutable_claims()->set_gender(*in.gender);
  } else {
    auto parsed = parse_population_lookup(ex.req.body());
    if (auto* errors = std::get_if<std::vector<http::FieldError>>(&parsed)) {
      co_return reject(http::validation_problem(std::move(*errors)), "validation");
    }
    auto& in = std::get<LookupInput>(parsed);
    const auto& granted = partner.fields_of("population");
    std::vector<std::string> fields;
    if (in.fields) {
      std::vector<http::FieldError> denied;
      for (const auto& f : *in.fields) {
        if (!granted.contains(f))
          denied.push_back({"fields", "partner may not receive '" + f + "'"});
      }
      if (!denied.empty()) {
        Problem p = problem(Status::forbidden, "field-not-allowed", "Field not allowed",
                            "the request names fields this partner is not granted");
        p.errors = std::move(denied);
        co_return reject(p, "forbidden");
      }
      fields = *in.fields;
    } else {
      fields.assign(granted.begin(), granted.end());
    }
    if (fields.empty()) {
      co_return reject(problem(Status::forbidden, "field-not-allowed", "Field not allowed",
                               "partner '" + partner.id + "' is granted no population fields"),
                       "forbidden");
    }
    env.set_operation(v1::OPERATION_LOOKUP);
    env.set_citizen_id(in.citizen_id);
    env.set_purpose(in.who.purpose);
    env.set_on_behalf_of(in.who.on_behalf_of);
    env.set_procedure_code(in.who.procedure_code);
    for (auto& f : fields) env.add_fields(std::move(f));
  }

  const auto deadline = std::chrono::steady_clock::now() + deadline_;
  env.set_deadline_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                               (std::chrono::system_clock::now() + deadline_).time_since_epoch())
                               .count());
  auto [ec, reply] = co_await bus_.async_call(std::move(env), ex.traceparent, deadline,
                                              asio::as_tuple(asio::use_awaitable));
  if (ec)
    co_return http::make_problem_response(call_problem(ec), ex.request_id, version, keep_alive);

  switch (reply.status()) {
    case v1::STATUS_OK:
      co_return http::make_json_response(
          Status::ok, operation == "verify" ? verify_body(reply) : lookup_body(reply),
          ex.request_id, version, keep_alive);
    case v1::STATUS_NOT_FOUND:
      co_return http::make_problem_response(
          problem(Status::not_found, "subject-not-found", "Subject not found",
                  "the population registry has no citizen with this ID"),
          ex.request_id, version, keep_alive);
    case v1::STATUS_BAD_REQUEST:
      co_return http::make_problem_response(
          problem(Status::bad_request, "registry-rejected", "The registry rejected the request",
                  reply.detail()),
          ex.request_id, version, keep_alive);
    default:
      co_return http::make_problem_response(
          problem(Status::bad_gateway, "registry-error", "The registry failed to answer",
                  "the population registry backend reported an error; it was logged"),
          ex.request_id, version, keep_alive);
  }
}

}  // namespace lgsp::gateway
