#include "gateway/api_handler.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <optional>
#include <tuple>
#include <variant>

#include "gateway/responses.hpp"
#include "gateway/routes.hpp"
#include "http/request_id.hpp"
#include "observability/log.hpp"
#include "observability/trace_context.hpp"
#include "registries/table.hpp"

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
  /// Keeps `partner` alive even if a reload replaces the directory mid-request.
  std::shared_ptr<const PartnerDirectory> directory;
  const Partner* partner = nullptr;
  std::string_view route = "other";
  std::string_view registry;
  std::string_view operation;
  // For the audit event. Subjects stay in memory only; the event carries their hashes.
  std::vector<std::string> subjects;
  std::string purpose;
  std::string on_behalf_of;
  std::string procedure_code;
  std::vector<std::string> released;  // "registry.field"
  std::int64_t time_unix_ms = 0;
  // Bulk jobs: the job a call concerns and how many subjects it covers.
  std::string batch_id;
  std::int64_t subject_count = 0;
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
    case v1::STATUS_UNAVAILABLE:
      return problem(Status::service_unavailable, "registry-unavailable",
                     "The registry is unavailable",
                     "the " + reply.source().registry() +
                         " registry's system of record did not answer now; retry later");
    default:
      return problem(Status::bad_gateway, "registry-error", "The registry failed to answer",
                     "the " + reply.source().registry() +
                         " registry backend reported an error; it was logged");
  }
}

/// A registry's OK answer that the gateway will not release (malformed, or fields beyond
/// those asked): nothing of it reaches the partner.
Problem answer_refused(const v1::Reply& reply) {
  return problem(Status::bad_gateway, "registry-error", "The registry failed to answer",
                 "the " + reply.source().registry() +
                     " registry's answer did not pass the gateway's checks; it was logged");
}

/// The outcome recorded in the audit trail, from the HTTP status answered.
std::string_view outcome_of(int status) {
  if (status >= 200 && status < 300) return "ok";
  switch (status) {
    case 404:
      return "not_found";
    case 401:
    case 403:
      return "denied";
    case 429:
      return "rate_limited";
    case 400:
    case 413:
    case 415:
    case 422:
      return "invalid";
    default:
      return "error";
  }
}

/// What a parsed request says for the audit trail, even when it is then refused.
void note_accountability(const bus::v1::Request& env, std::vector<std::string>& subjects,
                         std::string& purpose, std::string& on_behalf_of, std::string& procedure) {
  if (env.subject_key() == "citizen_id") subjects.push_back(env.subject());
  purpose = env.purpose();
  on_behalf_of = env.on_behalf_of();
  procedure = env.procedure_code();
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ApiHandler::ApiHandler(std::shared_ptr<const PartnerDirectory> partners, ApiServices services)
    : partners_(std::move(partners)), services_(services) {}

void ApiHandler::reload(std::shared_ptr<const PartnerDirectory> partners) {
  std::lock_guard lock(partners_mu_);
  partners_.swap(partners);
}

std::shared_ptr<const PartnerDirectory> ApiHandler::partners() const {
  std::lock_guard lock(partners_mu_);
  return partners_;
}

asio::awaitable<http::Response> ApiHandler::handle(http::Request req, const http::PeerInfo& peer) {
  const auto started = std::chrono::steady_clock::now();
  GatewayProbe& probe = services_.probe;
  Exchange ex;
  ex.req = std::move(req);
  ex.request_id = http::new_request_id();
  ex.directory = partners();
  ex.time_unix_ms = unix_ms_now();
  ex.traceparent = obs::continue_trace(ex.req[std::string_view("traceparent")]);
  probe.in_flight().Increment();

  // A query string does not change the route (nothing is read from it: personal data never
  // travels in URLs).
  std::string_view target = ex.req.target();
  target = target.substr(0, target.find('?'));
  for (const auto& r : routes()) {
    if (target == r.path) {
      ex.route = r.path;
      ex.registry = r.registry;
      ex.operation = r.operation;
    }
  }

  std::optional<RateLimiter::Decision> admission;
  // Admission, authentication, authorisation, limits and validation: the parsed request,
  // or the problem to answer.
  const auto admit = [&]() -> std::variant<ParsedRequest, Problem> {
    if (draining_) {
      probe.rejected("draining");
      return problem(Status::service_unavailable, "shutting-down", "The gateway is shutting down",
                     "retry against another instance");
    }
    if (ex.operation.empty()) {
      return problem(Status::not_found, "not-found", "No such endpoint",
                     "see docs/api.md for the endpoints");
    }
    if (ex.req.method() != bhttp::verb::post) {
      return problem(Status::method_not_allowed, "method-not-allowed", "Method not allowed",
                     "use POST: personal data never travels in URLs");
    }
    const AuthResult auth = ex.directory->authenticate(ex.req[bhttp::field::authorization], peer,
                                                       std::chrono::system_clock::now());
    if (auth.partner == nullptr) {
      probe.rejected("auth");
      return problem(Status::unauthorized, "unauthenticated", "Authentication required",
                     auth_detail(auth));
    }
    ex.partner = auth.partner;
    auto body = parse_request(ex.registry, ex.operation, ex.req.body());
    // Noted even when the request is refused below: the audit trail says who asked about
    // whom and why, whatever the answer.
    if (const auto* p = std::get_if<ParsedRequest>(&body)) {
      note_accountability(p->envelope, ex.subjects, ex.purpose, ex.on_behalf_of, ex.procedure_code);
    }
    const std::string operation = std::string(ex.registry) + "." + std::string(ex.operation);
    if (!ex.partner->may(ex.registry, ex.operation)) {
      probe.rejected("forbidden");
      return problem(Status::forbidden, "operation-not-allowed", "Operation not allowed",
                     "partner '" + ex.partner->id + "' may not call " + operation);
    }
    // Before the limits: a request the gateway cannot read spends no rate or quota.
    if (!is_json_media_type(ex.req[bhttp::field::content_type])) {
      probe.rejected("validation");
      return problem(Status::unsupported_media_type, "unsupported-media-type",
                     "Unsupported media type", "send the body as Content-Type: application/json");
    }
    const auto op_limit = ex.partner->operation_limits.find(operation);
    admission =
        limiter_.admit(ex.partner->id, operation, ex.partner->rate_limit,
                       op_limit == ex.partner->operation_limits.end() ? nullptr : &op_limit->second,
                       ex.partner->daily_quota, std::chrono::steady_clock::now(),
                       std::chrono::system_clock::now());
    if (admission->verdict == RateLimiter::Decision::Verdict::kRateLimited) {
      probe.rejected("rate");
      return problem(Status::too_many_requests, "rate-limited", "Too many requests",
                     "partner '" + ex.partner->id + "' is over its rate limit; retry after " +
                         std::to_string(admission->retry_after.count()) + " ms");
    }
    if (admission->verdict == RateLimiter::Decision::Verdict::kQuotaExhausted) {
      probe.rejected("quota");
      return problem(Status::too_many_requests, "quota-exhausted", "Daily quota exhausted",
                     "partner '" + ex.partner->id + "' has used its daily quota of " +
                         std::to_string(admission->quota_limit) +
                         " requests; it renews at 00:00 UTC");
    }
    if (auto* errors = std::get_if<std::vector<http::FieldError>>(&body)) {
      probe.rejected("validation");
      return http::validation_problem(std::move(*errors));
    }
    if (!ex.partner->may_state(ex.purpose)) {
      probe.rejected("purpose");
      Problem p = problem(Status::forbidden, "purpose-not-allowed", "Purpose not allowed",
                          "partner '" + ex.partner->id + "' is not registered for this purpose");
      p.errors.push_back({"purpose", "not one of the purposes registered for this partner"});
      return p;
    }
    return std::move(std::get<ParsedRequest>(body));
  };

  auto admitted = admit();
  http::Response res;
  if (auto* refused = std::get_if<Problem>(&admitted)) {
    res =
        http::make_problem_response(*refused, ex.request_id, ex.req.version(), ex.req.keep_alive());
    if (refused->status == Status::unauthorized)
      res.set(bhttp::field::www_authenticate, "Bearer realm=\"lgsp\"");
    if (refused->status == Status::method_not_allowed) res.set(bhttp::field::allow, "POST");
  } else if (ex.registry == "citizen") {
    res = co_await citizen_profile(ex, std::move(std::get<ParsedRequest>(admitted)));
  } else if (ex.registry == "audit") {
    res = co_await access_log(ex, std::move(std::get<ParsedRequest>(admitted)));
  } else {
    res = co_await registry_call(ex, std::move(std::get<ParsedRequest>(admitted)));
  }
  if (admission && admission->quota_limit > 0) {
    res.set("X-Quota-Limit", std::to_string(admission->quota_limit));
    res.set("X-Quota-Remaining", std::to_string(admission->quota_remaining));
  }
  if (admission && !admission->allowed()) {
    const auto seconds = (admission->retry_after.count() + 999) / 1000;
    res.set(bhttp::field::retry_after, std::to_string(std::max<std::int64_t>(1, seconds)));
  }

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  int status = static_cast<int>(res.result_int());
  // Nothing is released that the audit trail cannot account for.
  if (!audit(ex, status, static_cast<std::int64_t>(seconds * 1e6)) && status < 300) {
    res = http::make_problem_response(
        problem(Status::service_unavailable, "audit-unavailable", "Audit trail unavailable",
                "the request could not be recorded in the audit trail, so no data is released; "
                "retry later"),
        ex.request_id, ex.req.version(), ex.req.keep_alive());
    status = static_cast<int>(res.result_int());
  }
  res.set("traceparent", ex.traceparent);
  conclude(ex, status, seconds);
  co_return res;
}

void ApiHandler::conclude(const Exchange& ex, int status, double seconds) {
  const std::string_view partner =
      ex.partner != nullptr ? std::string_view(ex.partner->id) : "anonymous";
  services_.probe.in_flight().Decrement();
  services_.probe.request_done(partner, ex.route, status, seconds);
  // The access line: who asked what, never about whom (no subject, no personal data).
  obs::info("http_request", {{"request_id", ex.request_id},
                             {"partner", partner},
                             {"route", ex.route},
                             {"status", status},
                             {"duration_us", static_cast<std::int64_t>(seconds * 1e6)},
                             {"trace_id", obs::trace_id_of(ex.traceparent)}});
}

bool ApiHandler::audit(const Exchange& ex, int status, std::int64_t latency_us) {
  if (services_.audit == nullptr) return true;
  bus::v1::AuditEvent e;
  e.set_event_id(ex.request_id);
  e.set_time_unix_ms(ex.time_unix_ms);
  e.set_request_id(ex.request_id);
  e.set_partner_id(ex.partner != nullptr ? ex.partner->id : "anonymous");
  // Never the path of an unknown route: a client may have put an ID in it.
  e.set_operation(ex.operation.empty()
                      ? std::string("unknown-route")
                      : std::string(ex.registry) + "." + std::string(ex.operation));
  // Unauthenticated requests are recorded without subjects: nobody accessed anything, and a
  // citizen's access log should not list strangers' failed guesses as accesses.
  if (ex.partner != nullptr) {
    std::vector<std::string> hashes;
    for (const auto& s : ex.subjects) hashes.push_back(services_.hasher->hash(s));
    std::sort(hashes.begin(), hashes.end());
    hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
    for (auto& h : hashes) e.add_subject_hashes(std::move(h));
  }
  e.set_purpose(ex.purpose);
  e.set_on_behalf_of(ex.on_behalf_of);
  e.set_procedure_code(ex.procedure_code);
  if (status < 300) {
    for (const auto& f : ex.released) e.add_fields_released(f);
  }
  e.set_outcome(std::string(outcome_of(status)));
  e.set_http_status(status);
  e.set_latency_us(latency_us);
  e.set_batch_id(ex.batch_id);
  e.set_subject_count(ex.subject_count);
  return services_.audit->publish(e);
}

bool ApiHandler::streams(const http::RequestHead& head) const {
  return BatchApi::matches(head.target());
}

asio::awaitable<http::StreamedResponse> ApiHandler::handle_stream(http::RequestHead head,
                                                                  http::BodyReader& body,
                                                                  const http::PeerInfo& peer) {
  const auto started = std::chrono::steady_clock::now();
  GatewayProbe& probe = services_.probe;
  Exchange ex;
  ex.request_id = http::new_request_id();
  ex.directory = partners();
  ex.time_unix_ms = unix_ms_now();
  ex.traceparent = obs::continue_trace(head[std::string_view("traceparent")]);
  ex.registry = "batch";
  std::tie(ex.route, ex.operation) = BatchApi::classify(head);
  probe.in_flight().Increment();
  const unsigned version = head.version();
  const auto refuse = [&](const Problem& p) {
    return http::StreamedResponse{http::make_problem_response(p, ex.request_id, version, true), {}};
  };

  http::StreamedResponse res;
  BatchCall call;
  if (draining_) {
    probe.rejected("draining");
    res = refuse(problem(Status::service_unavailable, "shutting-down",
                         "The gateway is shutting down", "retry against another instance"));
  } else if (services_.batches == nullptr) {
    res = refuse(problem(Status::service_unavailable, "batches-unavailable",
                         "Bulk jobs are not available",
                         "this gateway has no job store configured (batches.sqlite_path)"));
  } else {
    const AuthResult auth = ex.directory->authenticate(head[bhttp::field::authorization], peer,
                                                       std::chrono::system_clock::now());
    if (auth.partner == nullptr) {
      probe.rejected("auth");
      res = refuse(problem(Status::unauthorized, "unauthenticated", "Authentication required",
                           auth_detail(auth)));
      res.head.set(bhttp::field::www_authenticate, "Bearer realm=\"lgsp\"");
    } else {
      ex.partner = auth.partner;
      const auto audit_submission = [&](const batch::Job& job, std::int64_t subjects) {
        Exchange sub = ex;
        sub.operation = "submit";
        sub.batch_id = job.id;
        sub.subject_count = subjects;
        sub.purpose = job.purpose;
        sub.procedure_code = job.procedure_code;
        return audit(sub, 202, 0);
      };
      call = co_await services_.batches->handle(head, body, *ex.partner, ex.request_id,
                                                audit_submission);
      res = std::move(call.res);
      ex.batch_id = call.batch_id;
      ex.subject_count = call.subject_count;
      ex.purpose = call.purpose;
      ex.procedure_code = call.procedure_code;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  int status = static_cast<int>(res.head.result_int());
  if (!call.audited && !audit(ex, status, static_cast<std::int64_t>(seconds * 1e6)) &&
      status < 300) {
    // A status or results read that the trail cannot record releases nothing.
    res =
        refuse(problem(Status::service_unavailable, "audit-unavailable", "Audit trail unavailable",
                       "the request could not be recorded in the audit trail, so no data is "
                       "released; retry later"));
    status = static_cast<int>(res.head.result_int());
  }
  res.head.set("traceparent", ex.traceparent);
  conclude(ex, status, seconds);
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
  env.set_deadline_unix_ms(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          (std::chrono::system_clock::now() + services_.deadline).time_since_epoch())
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
    services_.probe.rejected("forbidden");
    co_return http::make_problem_response(*refused, ex.request_id, version, keep_alive);
  }
  const bool verify = parsed.envelope.operation() == v1::OPERATION_VERIFY;
  std::vector<std::string> asked(parsed.envelope.fields().begin(), parsed.envelope.fields().end());
  auto [ec, reply] = co_await services_.bus.async_call(
      std::move(parsed.envelope), ex.traceparent,
      std::chrono::steady_clock::now() + services_.deadline, asio::as_tuple(asio::use_awaitable));
  if (ec)
    co_return http::make_problem_response(call_problem(ec), ex.request_id, version, keep_alive);
  for (const auto& id : reply.subject_citizen_ids()) ex.subjects.push_back(id);
  if (reply.status() != v1::STATUS_OK) {
    co_return http::make_problem_response(reply_problem(reply), ex.request_id, version, keep_alive);
  }
  if (verify) {
    co_return http::make_json_response(Status::ok, verify_body(reply), ex.request_id, version,
                                       keep_alive);
  }
  auto body = lookup_body(reply, asked);
  if (!body) {
    co_return http::make_problem_response(answer_refused(reply), ex.request_id, version,
                                          keep_alive);
  }
  for (const auto& f : asked) ex.released.push_back(std::string(ex.registry) + "." + f);
  co_return http::make_json_response(Status::ok, std::move(*body), ex.request_id, version,
                                     keep_alive);
}

asio::awaitable<http::Response> ApiHandler::citizen_profile(Exchange& ex, ParsedRequest parsed) {
  const unsigned version = ex.req.version();
  const bool keep_alive = ex.req.keep_alive();
  const Partner& partner = *ex.partner;

  // The registries this partner may look up and has fields in (or those it asked for).
  std::vector<std::string> registries;
  for (const registries::Module* module : registries::modules()) {
    const std::string name(module->catalogue().name);
    const bool asked = parsed.registries.empty() ||
                       std::find(parsed.registries.begin(), parsed.registries.end(), name) !=
                           parsed.registries.end();
    if (asked && partner.may(name, "lookup") && !partner.fields_of(name).empty())
      registries.push_back(name);
  }
  if (registries.empty()) {
    services_.probe.rejected("forbidden");
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
  std::vector<std::vector<std::string>> asked(registries.size());
  std::size_t remaining = registries.size();
  const auto deadline = std::chrono::steady_clock::now() + services_.deadline;
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
    asked[i].assign(sub.envelope.fields().begin(), sub.envelope.fields().end());
    services_.bus.async_call(
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
    // Other citizens a part touched (a marriage's spouse): the audit names them too.
    for (const auto& id : p.reply.subject_citizen_ids()) ex.subjects.push_back(id);
    json::object part;
    if (p.ec) {
      partial = true;
      part["status"] = "unavailable";
      part["detail"] = p.ec.message();
    } else if (p.reply.status() == v1::STATUS_OK) {
      auto members = lookup_members(p.reply, asked[i]);
      if (!members) {
        partial = true;
        part["status"] = "unavailable";
        part["detail"] = "the registry's answer did not pass the gateway's checks";
        sources[registries[i]] = std::move(part);
        continue;
      }
      part["status"] = "ok";
      for (auto& kv : *members) part[kv.key()] = std::move(kv.value());
      for (const auto& f : asked[i]) ex.released.push_back(registries[i] + "." + f);
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

asio::awaitable<http::Response> ApiHandler::access_log(Exchange& ex, ParsedRequest parsed) {
  const unsigned version = ex.req.version();
  const bool keep_alive = ex.req.keep_alive();
  if (services_.access_log == nullptr || services_.hasher == nullptr) {
    co_return http::make_problem_response(
        problem(Status::service_unavailable, "access-log-unavailable",
                "The access log is not available",
                "this gateway has no audit store configured (audit.store)"),
        ex.request_id, version, keep_alive);
  }
  auto result = co_await services_.access_log->page(
      services_.hasher->hash(parsed.envelope.subject()), parsed.before_seq,
      static_cast<std::size_t>(parsed.page_size));
  if (const auto* error = std::get_if<std::string>(&result)) {
    obs::error("access_log_query_failed", {{"request_id", ex.request_id}, {"error", *error}});
    co_return http::make_problem_response(
        problem(Status::service_unavailable, "access-log-unavailable",
                "The access log is not available",
                "the audit store could not be read; retry later"),
        ex.request_id, version, keep_alive);
  }
  const auto& page = std::get<std::vector<audit::AuditRecord>>(result);
  json::array accesses;
  for (const auto& r : page) {
    json::array fields;
    for (const auto& f : r.fields_released) fields.emplace_back(f);
    const Partner* who = ex.directory->find(r.partner_id);
    accesses.push_back(json::object{
        {"time", format_utc(r.time_unix_ms)},
        {"partner_id", r.partner_id},
        {"partner_name", who != nullptr ? who->name : r.partner_id},
        {"operation", r.operation},
        {"purpose", r.purpose},
        {"procedure_code", r.procedure_code},
        {"fields", std::move(fields)},
        {"outcome", r.outcome},
    });
  }
  json::object out{{"request_id", ex.request_id}, {"accesses", std::move(accesses)}};
  if (page.size() == static_cast<std::size_t>(parsed.page_size)) {
    out["next_page_token"] = std::to_string(page.back().seq);
  } else {
    out["next_page_token"] = nullptr;
  }
  co_return http::make_json_response(Status::ok, json::serialize(out), ex.request_id, version,
                                     keep_alive);
}

}  // namespace lgsp::gateway
