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

#include "domain/dates.hpp"
#include "gateway/responses.hpp"
#include "gateway/routes.hpp"
#include "http/request_id.hpp"
#include "observability/log.hpp"
#include "observability/trace_context.hpp"
#include "registries/table.hpp"
#include "util/clock.hpp"
#include "util/media_type.hpp"

namespace lgsp::gateway {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
namespace v1 = bus::v1;
using http::Problem;
using http::problem;
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
  /// A lawful investigation's access: out of the citizen's access log until then.
  std::int64_t withheld_until_ms = 0;
  std::string withholding_ref;
  /// The consent presented (audited even when refused), and once checked, the consent itself.
  std::string consent_id;
  std::optional<consents::Consent> consent;
  std::vector<std::string> released;  // "registry.field"
  std::int64_t time_unix_ms = 0;
  // Bulk jobs: the job a call concerns and how many subjects it covers.
  std::string batch_id;
  std::int64_t subject_count = 0;
  /// An unauthenticated failure over its address's budget: counted into an aggregate
  /// audit event instead of one of its own.
  bool aggregated = false;
  std::string address;  // the client's IP address, for that budget
};

namespace {

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
  // A claimed citizen (a vehicle's owner, a spouse) is someone the request asks about too:
  // "does citizen X own this plate?" is in X's access log.
  for (const auto& [claim, value] : env.claims()) {
    if (claim.ends_with("citizen_id")) subjects.push_back(value);
  }
  purpose = env.purpose();
  on_behalf_of = env.on_behalf_of();
  procedure = env.procedure_code();
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

ApiHandler::Exchange ApiHandler::open_exchange(std::string_view traceparent) {
  Exchange ex;
  ex.request_id = http::new_request_id();
  ex.directory = partners();
  ex.time_unix_ms = util::unix_ms_now();
  ex.traceparent = obs::continue_trace(traceparent);
  services_.probe.in_flight().Increment();
  return ex;
}

asio::awaitable<http::Response> ApiHandler::handle(http::Request req, const http::PeerInfo& peer) {
  const auto started = std::chrono::steady_clock::now();
  Exchange ex = open_exchange(req[std::string_view("traceparent")]);
  ex.req = std::move(req);
  // A query string does not change the route (nothing is read from it: personal data never
  // travels in URLs).
  std::string_view target = ex.req.target();
  target = target.substr(0, target.find('?'));
  for (const auto& r : routes()) {
    if (target != r.path) continue;
    ex.route = r.path;
    ex.registry = r.registry;
    ex.operation = r.operation;
  }

  std::optional<RateLimiter::Decision> limits;
  http::Response res;
  if (procedures::ProcedureApi::matches(target) || changes::ChangesApi::matches(target)) {
    res = co_await module_call(ex, peer, changes::ChangesApi::matches(target));
  } else if (auto admitted = admit(ex, peer, limits);
             auto* refused = std::get_if<Problem>(&admitted)) {
    ex.address = peer.address;
    // The client's own failures before a partner is known; not the gateway's refusals
    // (draining, audit backlog), which say nothing about the client.
    const bool client_failure = refused->status == Status::unauthorized ||
                                refused->status == Status::not_found ||
                                refused->status == Status::method_not_allowed;
    res = ex.partner == nullptr && client_failure
              ? anonymous_failure(ex, *refused)
              : http::make_problem_response(*refused, ex.request_id, ex.req.version(),
                                            ex.req.keep_alive());
  } else {
    res = co_await dispatch(ex, std::move(std::get<ParsedRequest>(admitted)));
  }
  Admission::decorate(res, limits ? &*limits : nullptr);

  const double seconds = util::seconds_since(started);
  if (auto unaccounted = co_await account(ex, static_cast<int>(res.result_int()), seconds)) {
    res = http::make_problem_response(*unaccounted, ex.request_id, ex.req.version(),
                                      ex.req.keep_alive());
  }
  res.set("traceparent", ex.traceparent);
  conclude(ex, static_cast<int>(res.result_int()), seconds);
  co_return res;
}

std::variant<ParsedRequest, Problem> ApiHandler::admit(
    Exchange& ex, const http::PeerInfo& peer, std::optional<RateLimiter::Decision>& limits) {
  if (auto closed = admission_.open(draining_)) return std::move(*closed);
  if (auto backlog = audit_backlog()) return std::move(*backlog);
  if (ex.operation.empty()) {
    return problem(Status::not_found, "not-found", "No such endpoint",
                   "see docs/api.md for the endpoints");
  }
  if (ex.req.method() != bhttp::verb::post) {
    return problem(Status::method_not_allowed, "method-not-allowed", "Method not allowed",
                   "use POST: personal data never travels in URLs");
  }
  auto who = admission_.authenticate(*ex.directory, ex.req[bhttp::field::authorization], peer);
  if (auto* refused = std::get_if<Problem>(&who)) return std::move(*refused);
  ex.partner = std::get<const Partner*>(who);
  auto body = parse_request(ex.registry, ex.operation, ex.req.body(),
                            {.year_only_dates = ex.partner->year_only_dates});
  // Noted even when the request is refused below: the audit trail says who asked about whom
  // and why, whatever the answer.
  if (const auto* p = std::get_if<ParsedRequest>(&body)) {
    note_accountability(p->envelope, ex.subjects, ex.purpose, ex.on_behalf_of, ex.procedure_code);
    ex.consent_id = p->consent_id;  // audited whatever the answer
  }
  if (auto refused = admission_.authorise(*ex.partner, ex.registry, ex.operation))
    return std::move(*refused);
  if (const auto* p = std::get_if<ParsedRequest>(&body); p && !p->lawful_investigation.empty()) {
    if (auto refused = withhold(ex, p->lawful_investigation)) return std::move(*refused);
  }
  // Before the limits: a request the gateway cannot read spends no rate or quota.
  if (!util::is_json(util::media_type(ex.req[bhttp::field::content_type]))) {
    services_.probe.rejected("validation");
    return problem(Status::unsupported_media_type, "unsupported-media-type",
                   "Unsupported media type", "send the body as Content-Type: application/json");
  }
  if (auto refused = admission_.limit(*ex.partner, ex.registry, ex.operation, limits.emplace()))
    return std::move(*refused);
  if (auto* errors = std::get_if<std::vector<http::FieldError>>(&body)) {
    services_.probe.rejected("validation");
    return http::validation_problem(std::move(*errors));
  }
  // A purpose that needs consent passes here; dispatch checks the consent itself.
  if (auto refused = admission_.purpose(*ex.partner, ex.purpose, true)) return std::move(*refused);
  return std::move(std::get<ParsedRequest>(body));
}

asio::awaitable<http::Response> ApiHandler::module_call(Exchange& ex, const http::PeerInfo& peer,
                                                        bool changes) {
  ex.registry = changes ? "changes" : "procedure";
  if (changes) {
    ex.route = "/v1/changes";
    ex.operation = "read";
  } else if (services_.procedures != nullptr) {
    std::tie(ex.route, ex.operation) = services_.procedures->classify(ex.req);
  }
  const auto refuse = [&](const Problem& p) {
    return http::make_problem_response(p, ex.request_id, ex.req.version(), ex.req.keep_alive());
  };
  if (auto closed = admission_.open(draining_)) co_return refuse(*closed);
  if (auto backlog = audit_backlog()) co_return refuse(*backlog);
  if (changes && services_.changes == nullptr) {
    co_return refuse(problem(Status::service_unavailable, "changes-unavailable",
                             "The change feed is not available",
                             "this gateway has no change feed configured (changes)"));
  }
  if (!changes && services_.procedures == nullptr) {
    co_return refuse(problem(Status::service_unavailable, "procedures-unavailable",
                             "Procedures are not available",
                             "this gateway has no procedure store configured (procedures)"));
  }
  auto who = admission_.authenticate(*ex.directory, ex.req[bhttp::field::authorization], peer);
  if (auto* refused = std::get_if<Problem>(&who)) {
    // As on every partner path: an address's failed authentications count against its
    // budget, so keys cannot be guessed here faster than elsewhere.
    ex.address = peer.address;
    co_return refused->status == Status::unauthorized ? anonymous_failure(ex, *refused)
                                                      : refuse(*refused);
  }
  ex.partner = std::get<const Partner*>(who);
  if (changes) {
    auto read = co_await services_.changes->handle(ex.req, *ex.partner, ex.request_id, admission_);
    ex.subjects = std::move(read.subjects);
    ex.purpose = std::move(read.purpose);
    ex.released = std::move(read.released);
    co_return std::move(read.res);
  }
  auto call = co_await services_.procedures->handle(ex.req, *ex.partner, ex.request_id, admission_);
  ex.subjects = std::move(call.subjects);
  ex.purpose = std::move(call.purpose);
  ex.on_behalf_of = std::move(call.on_behalf_of);
  ex.procedure_code = std::move(call.procedure_code);
  co_return std::move(call.res);
}

std::optional<Problem> ApiHandler::withhold(Exchange& ex, const std::string& reference) const {
  if (ex.partner->withhold_days <= 0) {
    services_.probe.rejected("forbidden");
    return problem(Status::forbidden, "withholding-not-allowed",
                   "This partner may not withhold accesses from access logs",
                   "lawful_investigation: the partner is not granted withholding (partner policy "
                   "withhold_days); send the request without it");
  }
  constexpr std::int64_t kMsPerDay = 86'400'000;
  ex.withheld_until_ms = ex.time_unix_ms + ex.partner->withhold_days * kMsPerDay;
  ex.withholding_ref = reference;
  return std::nullopt;
}

asio::awaitable<http::Response> ApiHandler::dispatch(Exchange& ex, ParsedRequest parsed) {
  if (ex.registry == "audit") co_return co_await access_log(ex, std::move(parsed));
  if (ex.registry == "consent") co_return co_await consent_call(ex, std::move(parsed));
  // Before any data moves: the consent its purpose needs, or the one it presents.
  if (auto refused = co_await check_consent(ex, parsed)) co_return std::move(*refused);
  if (ex.registry == "citizen") co_return co_await citizen_profile(ex, std::move(parsed));
  co_return co_await registry_call(ex, std::move(parsed));
}

namespace {

Problem audit_unavailable() {
  return problem(Status::service_unavailable, "audit-unavailable", "Audit trail unavailable",
                 "the request could not be recorded durably in the audit trail, so no data is "
                 "released; retry later");
}

}  // namespace

std::optional<Problem> ApiHandler::audit_backlog() const {
  if (services_.audit == nullptr || services_.audit->accepting()) return std::nullopt;
  services_.probe.rejected("audit_backlog");
  return audit_unavailable();
}

http::Response ApiHandler::anonymous_failure(Exchange& ex, const Problem& refused) const {
  std::chrono::milliseconds retry_after{0};
  auto* budget = services_.anonymous_failures;
  if (budget == nullptr ||
      budget->admit(ex.address, std::chrono::steady_clock::now(), retry_after)) {
    auto res =
        http::make_problem_response(refused, ex.request_id, ex.req.version(), ex.req.keep_alive());
    if (refused.status == Status::method_not_allowed) res.set(bhttp::field::allow, "POST");
    return res;
  }
  ex.aggregated = true;
  services_.probe.rejected("anonymous_failures");
  auto res = http::make_problem_response(
      problem(Status::too_many_requests, "too-many-failures", "Too many failed requests",
              "this client has sent too many requests that could not be authenticated or "
              "routed; retry later with valid credentials"),
      ex.request_id, ex.req.version(), ex.req.keep_alive());
  res.set(bhttp::field::retry_after,
          std::to_string(std::max<std::int64_t>(1, (retry_after.count() + 999) / 1000)));
  return res;
}

void ApiHandler::record_aggregates(bool all) const {
  auto* budget = services_.anonymous_failures;
  if (budget == nullptr || services_.audit == nullptr) return;
  for (const auto& [address, count] :
       budget->take_aggregates(std::chrono::steady_clock::now(), all)) {
    obs::warn("anonymous_failures_aggregated", {{"client", address}, {"failures", count}});
    bus::v1::AuditEvent e;
    e.set_event_id(http::new_request_id());
    e.set_request_id(e.event_id());
    e.set_time_unix_ms(util::unix_ms_now());
    e.set_partner_id("anonymous");
    e.set_operation("anonymous.failures");
    e.set_outcome("rate_limited");
    e.set_http_status(429);
    e.set_subject_count(count);
    services_.audit->send(std::move(e));
  }
}

asio::awaitable<std::optional<Problem>> ApiHandler::account(const Exchange& ex, int status,
                                                            double seconds) {
  if (services_.audit == nullptr) co_return std::nullopt;
  if (ex.partner == nullptr) record_aggregates(false);  // those due, at most every 10 s
  if (ex.aggregated) co_return std::nullopt;
  auto event = audit_event(ex, status, static_cast<std::int64_t>(seconds * 1e6));
  if (status >= 300) {
    // Releases nothing: recorded, never waited for.
    services_.audit->send(std::move(event));
    co_return std::nullopt;
  }
  // Nothing is released that the audit trail cannot account for durably.
  if (co_await services_.audit->async_record(std::move(event), asio::use_awaitable))
    co_return std::nullopt;
  co_return audit_unavailable();
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

bus::v1::AuditEvent ApiHandler::audit_event(const Exchange& ex, int status,
                                            std::int64_t latency_us) const {
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
  e.set_withheld_until_unix_ms(ex.withheld_until_ms);
  e.set_withholding_reference(ex.withholding_ref);
  e.set_consent_id(ex.consent_id);
  return e;
}

bool ApiHandler::streams(const http::RequestHead& head) const {
  return batch::BatchApi::matches(head.target());
}

asio::awaitable<http::StreamedResponse> ApiHandler::handle_stream(http::RequestHead head,
                                                                  http::BodyReader& body,
                                                                  const http::PeerInfo& peer) {
  const auto started = std::chrono::steady_clock::now();
  Exchange ex = open_exchange(head[std::string_view("traceparent")]);
  ex.registry = "batch";
  std::tie(ex.route, ex.operation) = batch::BatchApi::classify(head);
  const unsigned version = head.version();
  const auto refuse = [&](const Problem& p) {
    http::StreamedResponse r{http::make_problem_response(p, ex.request_id, version, true), {}};
    Admission::decorate(r.head, nullptr);
    return r;
  };

  http::StreamedResponse res;
  batch::BatchCall call;
  if (auto closed = admission_.open(draining_)) {
    res = refuse(*closed);
  } else if (auto backlog = audit_backlog()) {
    res = refuse(*backlog);
  } else if (services_.batches == nullptr) {
    res = refuse(problem(Status::service_unavailable, "batches-unavailable",
                         "Bulk jobs are not available",
                         "this gateway has no job store configured (batches.sqlite_path)"));
  } else if (auto who =
                 admission_.authenticate(*ex.directory, head[bhttp::field::authorization], peer);
             std::holds_alternative<Problem>(who)) {
    res = refuse(std::get<Problem>(who));
  } else {
    ex.partner = std::get<const Partner*>(who);
    call = co_await services_.batches->handle(head, body, *ex.partner, ex.request_id, admission_,
                                              submission_auditor(ex));
    res = std::move(call.res);
    ex.batch_id = call.batch_id;
    ex.subject_count = call.subject_count;
    ex.purpose = call.purpose;
    ex.procedure_code = call.procedure_code;
  }
  const double seconds = util::seconds_since(started);
  // A status or results read that the trail cannot record releases nothing.
  if (!call.audited) {
    if (auto unaccounted = co_await account(ex, static_cast<int>(res.head.result_int()), seconds))
      res = refuse(*unaccounted);
  }
  res.head.set("traceparent", ex.traceparent);
  conclude(ex, static_cast<int>(res.head.result_int()), seconds);
  co_return res;
}

batch::BatchApi::AuditSubmission ApiHandler::submission_auditor(const Exchange& ex) {
  return [this, &ex](const batch::Job& job, std::int64_t subjects) {
    Exchange sub = ex;
    sub.operation = "submit";
    sub.batch_id = job.id;
    sub.subject_count = subjects;
    sub.purpose = job.purpose;
    sub.procedure_code = job.procedure_code;
    // The submission releases nothing: its results are released by reads, each audited, of
    // records whose chunk's audit event was durable first.
    if (services_.audit == nullptr) return true;
    if (!services_.audit->accepting()) return false;
    services_.audit->send(audit_event(sub, 202, 0));
    return true;
  };
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
  if (auto refused = within_consent(ex, parsed.envelope, parsed.fields.has_value())) {
    services_.probe.rejected("consent");
    co_return http::make_problem_response(*refused, ex.request_id, version, keep_alive);
  }
  const bool verify = parsed.envelope.operation() == v1::OPERATION_VERIFY;
  std::optional<VerifyCharge> charge;
  if (verify) {
    if (auto refused = guard_verify(ex, parsed.envelope, charge)) co_return std::move(*refused);
  }
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
    if (charge && !reply.verify().match()) {
      charge->told(reply.verify().subject_found() ? VerifyGuard::Told::kMismatch
                                                  : VerifyGuard::Told::kNoSuchSubject);
    }
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

std::optional<http::Response> ApiHandler::guard_verify(const Exchange& ex, const v1::Request& env,
                                                       std::optional<VerifyCharge>& charge) const {
  auto* guard = services_.verify_guard;
  if (guard == nullptr || !guard->enabled()) return std::nullopt;
  const auto key = guard->key(ex.partner->id, ex.registry, env.subject_key() + ':' + env.subject());
  const auto claims = VerifyGuard::claims_of(env);
  const auto admitted = guard->attempt(key, claims, std::chrono::steady_clock::now());
  if (admitted.wait.count() == 0) {
    if (admitted.charged) charge.emplace(*guard, VerifyGuard::Charge{key, claims});
    return std::nullopt;
  }
  const auto wait = admitted.wait;
  services_.probe.verify_guard_refused(ex.partner->id);
  obs::warn(
      "verify_attempts_exhausted",
      {{"request_id", ex.request_id}, {"partner", ex.partner->id}, {"registry", ex.registry}});
  auto res = http::make_problem_response(
      problem(Status::too_many_requests, "verify-attempts-exhausted",
              "Too many failed verifications of this subject",
              "partner '" + ex.partner->id + "' has had " + std::to_string(guard->limit()) +
                  " verifications of this subject fail recently; verify is not a way to find "
                  "out a citizen's data. Check the claims with the citizen and retry later"),
      ex.request_id, ex.req.version(), ex.req.keep_alive());
  res.set(bhttp::field::retry_after, std::to_string(wait.count()));
  return res;
}

/// One registry's part of a citizen profile: its reply (or the error) and the fields asked.
struct ApiHandler::ProfilePart {
  std::string registry;
  std::vector<std::string> asked;
  boost::system::error_code ec;
  v1::Reply reply;
  std::string refused;  // why this registry's lookup was not admitted ("": it was)
};

asio::awaitable<http::Response> ApiHandler::citizen_profile(Exchange& ex, ParsedRequest parsed) {
  const Partner& partner = *ex.partner;
  // The registries this partner may look up and has fields in (or those it asked for).
  std::vector<ProfilePart> parts;
  for (const registries::Module* module : registries::modules()) {
    const std::string name(module->catalogue().name);
    const bool asked = parsed.registries.empty() ||
                       std::find(parsed.registries.begin(), parsed.registries.end(), name) !=
                           parsed.registries.end();
    if (asked && partner.may(name, "lookup") && !partner.fields_of(name).empty()) {
      parts.push_back({name, {}, {}, {}, {}});
      // Under a consent, a registry outside its scope is left out, and said so.
      if (ex.consent) {
        const auto scope = consents::scope_of(ex.consent->scope, name);
        const auto& granted = partner.fields_of(name);
        if (!scope.covered || std::none_of(granted.begin(), granted.end(),
                                           [&](const auto& f) { return scope.allows(f); })) {
          parts.back().refused = "consent-out-of-scope: the citizen's consent does not cover it";
        }
      }
    }
  }
  if (parts.empty()) {
    services_.probe.rejected("forbidden");
    co_return http::make_problem_response(
        problem(Status::forbidden, "operation-not-allowed", "No registry allowed",
                "partner '" + partner.id + "' may look up none of the registries asked for"),
        ex.request_id, ex.req.version(), ex.req.keep_alive());
  }
  // Each registry asked is a lookup of its own: its operation's limit, the partner's limit
  // and the daily quota apply to it as to a lookup sent alone.
  std::optional<Problem> first_refusal;
  std::size_t refused = 0;
  for (auto& part : parts) {
    if (!part.refused.empty()) {
      ++refused;
      if (!first_refusal) {
        first_refusal =
            problem(Status::forbidden, "consent-out-of-scope", "Outside the citizen's consent",
                    "the citizen's consent covers none of the registries asked for",
                    {{"consent_id", "its scope covers none of these registries"}});
      }
      continue;
    }
    RateLimiter::Decision decision;
    if (auto no = admission_.limit(partner, part.registry, "lookup", decision)) {
      part.refused = no->type.substr(no->type.rfind(':') + 1) + ": " + no->detail;
      ++refused;
      if (!first_refusal) first_refusal = std::move(no);
    }
  }
  if (refused == parts.size()) {
    if (first_refusal->type == "consent-out-of-scope") services_.probe.rejected("consent");
    co_return http::make_problem_response(*first_refusal, ex.request_id, ex.req.version(),
                                          ex.req.keep_alive());
  }
  co_await ask_registries(ex, parsed, parts);
  co_return http::make_json_response(Status::ok, json::serialize(join_profile(ex, parts)),
                                     ex.request_id, ex.req.version(), ex.req.keep_alive());
}

asio::awaitable<void> ApiHandler::ask_registries(Exchange& ex, const ParsedRequest& parsed,
                                                 std::vector<ProfilePart>& parts) {
  // One lookup per registry, all published at once; each completes by reply, error or the
  // shared deadline, so the profile answers within the deadline whatever a registry does.
  auto executor = co_await asio::this_coro::executor;
  const auto deadline = std::chrono::steady_clock::now() + services_.deadline;
  // Shared with the calls' completions, so one that came after the backstop below (it
  // should not: every call ends by `deadline`) finds live state, never a finished frame.
  struct Calls {
    Calls(const asio::any_io_executor& ex, std::chrono::steady_clock::time_point at)
        : all_done(ex, at) {}
    std::vector<std::pair<boost::system::error_code, v1::Reply>> results;
    std::size_t remaining = 0;
    asio::steady_timer all_done;  // woken by the last part; its expiry is only a backstop
  };
  auto calls = std::make_shared<Calls>(executor, deadline + std::chrono::seconds(1));
  calls->results.resize(parts.size(), {asio::error::operation_aborted, {}});
  for (const auto& part : parts) calls->remaining += part.refused.empty() ? 1 : 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    auto& part = parts[i];
    if (!part.refused.empty()) continue;
    ParsedRequest sub;
    sub.envelope = parsed.envelope;
    sub.envelope.set_registry(part.registry);
    sub.envelope.set_operation(v1::OPERATION_LOOKUP);
    complete_envelope(ex, sub);  // cannot refuse: no explicit fields, and fields exist
    // Cannot refuse either: parts whose granted fields the consent does not reach were
    // refused above; this narrows the fields to the consent's.
    within_consent(ex, sub.envelope, false);
    // Distinct ids per part, traceable to the profile's request id.
    sub.envelope.set_request_id(ex.request_id + "-" + part.registry);
    part.asked.assign(sub.envelope.fields().begin(), sub.envelope.fields().end());
    services_.bus.async_call(
        std::move(sub.envelope), ex.traceparent, deadline,
        asio::bind_executor(executor, [calls, i](boost::system::error_code ec, v1::Reply reply) {
          calls->results[i] = {ec, std::move(reply)};
          if (--calls->remaining == 0) calls->all_done.cancel();
        }));
  }
  co_await calls->all_done.async_wait(asio::as_tuple(asio::use_awaitable));
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].refused.empty()) continue;
    parts[i].ec = calls->results[i].first;
    parts[i].reply = std::move(calls->results[i].second);
  }
}

json::object ApiHandler::join_profile(Exchange& ex, const std::vector<ProfilePart>& parts) const {
  bool partial = false;
  json::object sources;
  for (const ProfilePart& p : parts) {
    // Other citizens a part touched (a marriage's spouse): the audit names them too.
    for (const auto& id : p.reply.subject_citizen_ids()) ex.subjects.push_back(id);
    json::object part;
    auto members = !p.ec && p.reply.status() == v1::STATUS_OK ? lookup_members(p.reply, p.asked)
                                                              : std::optional<json::object>{};
    if (!p.refused.empty()) {
      partial = true;
      part["status"] = "refused";
      part["detail"] = p.refused;
    } else if (members) {
      part["status"] = "ok";
      for (auto& kv : *members) part[kv.key()] = std::move(kv.value());
      for (const auto& f : p.asked) ex.released.push_back(p.registry + "." + f);
    } else if (!p.ec && p.reply.status() == v1::STATUS_NOT_FOUND) {
      part["status"] = "not_found";
    } else {
      partial = true;
      part["status"] = "unavailable";
      part["detail"] = p.ec ? p.ec.message()
                       : p.reply.status() == v1::STATUS_OK
                           ? "the registry's answer did not pass the gateway's checks"
                           : "the registry backend reported an error";
    }
    sources[p.registry] = std::move(part);
  }
  return {{"request_id", ex.request_id}, {"partial", partial}, {"parts", std::move(sources)}};
}

namespace {

/// Carries the citizen's own access token on an access-log read; the partner (the citizen
/// app) authenticates itself as usual in Authorization.
constexpr std::string_view kCitizenTokenHeader = "Citizen-Token";

}  // namespace

std::optional<http::Response> ApiHandler::refuse_access_log_read(
    const Exchange& ex, const ParsedRequest& parsed) const {
  if (services_.access_log == nullptr || services_.hasher == nullptr ||
      services_.citizen_reads == nullptr || !ex.directory->checks_citizens()) {
    return http::make_problem_response(
        problem(Status::service_unavailable, "access-log-unavailable",
                "The access log is not available",
                "this gateway has no audit store (audit.store) or no citizen identity provider "
                "(auth.citizen) configured"),
        ex.request_id, ex.req.version(), ex.req.keep_alive());
  }
  // The log is the citizen's own: only a token the citizen identity provider issued to
  // this citizen opens it, whichever partner (the citizen app) carries it.
  if (auto refused = refuse_citizen_token(ex, parsed.envelope.subject())) return refused;
  return spend_citizen_read(ex, parsed.envelope.subject());
}

std::optional<http::Response> ApiHandler::refuse_citizen_token(
    const Exchange& ex, const std::string& citizen_id) const {
  const auto answer = [&](const Problem& p) {
    return http::make_problem_response(p, ex.request_id, ex.req.version(), ex.req.keep_alive());
  };
  const std::string_view token = ex.req[kCitizenTokenHeader];
  if (token.empty()) {
    return answer(problem(Status::unauthorized, "citizen-token-required",
                          "The citizen's token is required",
                          "send the access token the citizen identity provider issued to the "
                          "citizen in the Citizen-Token header"));
  }
  const auto now = std::chrono::system_clock::now();
  auto citizen = ex.directory->citizen(token, now);
  if (const auto* e = std::get_if<JwtError>(&citizen)) {
    services_.probe.rejected("citizen_token");
    return answer(problem(Status::unauthorized, "invalid-citizen-token",
                          "The citizen's token is not valid",
                          "Citizen-Token: " + std::string(describe(*e))));
  }
  if (std::get<std::string>(citizen) != citizen_id) {
    services_.probe.rejected("citizen_token");
    return answer(problem(Status::forbidden, "citizen-mismatch", "The token is another citizen's",
                          "citizen_id must be the citizen the Citizen-Token was issued to"));
  }
  return std::nullopt;
}

std::optional<http::Response> ApiHandler::spend_citizen_read(const Exchange& ex,
                                                             const std::string& citizen_id) const {
  const auto answer = [&](const Problem& p) {
    return http::make_problem_response(p, ex.request_id, ex.req.version(), ex.req.keep_alive());
  };
  const auto now = std::chrono::system_clock::now();
  const auto verdict = services_.citizen_reads->take(services_.hasher->hash(citizen_id), now);
  if (verdict == CitizenReads::Verdict::kAllowed) return std::nullopt;
  services_.probe.rejected("citizen_reads");
  auto res =
      answer(verdict == CitizenReads::Verdict::kExhausted
                 ? problem(Status::too_many_requests, "citizen-reads-exhausted",
                           "This citizen's own records were read too often today",
                           "at most " + std::to_string(services_.citizen_reads->daily_limit()) +
                               " reads per citizen and day (auth.citizen.daily_reads_per_citizen)")
                 : problem(Status::service_unavailable, "access-log-unavailable",
                           "The access log is not available",
                           "too many citizens read their own records today on this gateway"));
  res.set(bhttp::field::retry_after, std::to_string(CitizenReads::seconds_to_midnight(now)));
  return res;
}

asio::awaitable<http::Response> ApiHandler::access_log(Exchange& ex, ParsedRequest parsed) {
  const unsigned version = ex.req.version();
  const bool keep_alive = ex.req.keep_alive();
  if (auto refused = refuse_access_log_read(ex, parsed)) co_return std::move(*refused);
  auto result = co_await services_.access_log->page(
      services_.hasher->hash(parsed.envelope.subject()), parsed.before_seq,
      static_cast<std::size_t>(parsed.page_size), util::unix_ms_now());
  if (const auto* error = std::get_if<AccessLogReader::Unavailable>(&result)) {
    obs::log(error->busy ? spdlog::level::warn : spdlog::level::err, "access_log_query_failed",
             {{"request_id", ex.request_id}, {"error", error->why}, {"busy", error->busy}});
    auto res = http::make_problem_response(
        problem(Status::service_unavailable, "access-log-unavailable",
                "The access log is not available",
                error->busy ? "too many access-log queries are waiting; retry in a second"
                            : "the audit store could not be read; retry later"),
        ex.request_id, version, keep_alive);
    if (error->busy) res.set(boost::beast::http::field::retry_after, "1");
    co_return res;
  }
  const auto& listing = std::get<AccessLogReader::Listing>(result);
  json::array accesses;
  for (const auto& r : listing.records) {
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
    if (!r.consent_id.empty()) accesses.back().as_object()["consent_id"] = r.consent_id;
    if (r.withheld_until_ms != 0) {
      // Listed now that its time has passed; the citizen learns it was withheld, and why.
      accesses.back().as_object()["withheld"] = json::object{
          {"until", format_utc(r.withheld_until_ms)}, {"lawful_investigation", r.withholding_ref}};
    }
  }
  json::object out{{"request_id", ex.request_id}, {"accesses", std::move(accesses)}};
  if (listing.next_before != 0) {
    out["next_page_token"] = std::to_string(listing.next_before);
  } else {
    out["next_page_token"] = nullptr;
  }
  co_return http::make_json_response(Status::ok, json::serialize(out), ex.request_id, version,
                                     keep_alive);
}

namespace {

constexpr std::int64_t kMsPerDay = 86'400'000;

/// The first millisecond after `iso` (YYYY-MM-DD, already validated), UTC.
std::int64_t end_of_day_ms(std::string_view iso) {
  const auto d = *domain::parse_iso_date(iso);
  const std::chrono::sys_days day{std::chrono::year{d.year} / d.month / d.day};
  return std::chrono::duration_cast<std::chrono::milliseconds>(day.time_since_epoch()).count() +
         kMsPerDay;
}

std::string_view consent_state(const consents::Consent& c, std::int64_t now_ms) {
  if (c.revoked_ms != 0) return "revoked";
  return now_ms >= c.expires_ms ? "expired" : "active";
}

Problem consent_unavailable() {
  return problem(Status::service_unavailable, "consent-unavailable",
                 "The consent store is unavailable",
                 "the citizen's consent could not be checked or recorded now, so no data moves; "
                 "retry later");
}

}  // namespace

std::optional<Problem> ApiHandler::within_consent(const Exchange& ex, v1::Request& env,
                                                  bool fields_named) const {
  if (!ex.consent) return std::nullopt;
  const auto scope = consents::scope_of(ex.consent->scope, env.registry());
  const auto out_of_scope = [&](std::string why) {
    return problem(Status::forbidden, "consent-out-of-scope", "Outside the citizen's consent",
                   "the citizen's consent does not cover what this request asks for",
                   {{"consent_id", std::move(why)}});
  };
  if (!scope.covered)
    return out_of_scope("its scope does not include the " + env.registry() + " registry");
  if (scope.whole) return std::nullopt;
  if (env.operation() == v1::OPERATION_VERIFY) {
    for (const auto& [claim, value] : env.claims()) {
      if (!scope.allows(claim))
        return out_of_scope("its scope does not include " + env.registry() + "." + claim);
    }
    return std::nullopt;
  }
  // A lookup: the fields named must all be in scope; by default, those of the partner's
  // fields that are.
  std::vector<std::string> kept;
  for (const auto& f : env.fields()) {
    if (scope.allows(f)) {
      kept.push_back(f);
    } else if (fields_named) {
      return out_of_scope("its scope does not include " + env.registry() + "." + f);
    }
  }
  if (kept.empty())
    return out_of_scope("its scope includes none of the fields this partner may receive");
  env.clear_fields();
  for (auto& f : kept) env.add_fields(std::move(f));
  return std::nullopt;
}

asio::awaitable<std::optional<http::Response>> ApiHandler::check_consent(
    Exchange& ex, const ParsedRequest& parsed) {
  auto* book = services_.consents;
  const bool needed = book != nullptr && book->needs(ex.purpose);
  if (parsed.consent_id.empty() && !needed) co_return std::nullopt;
  const auto refuse = [&](const Problem& p) -> std::optional<http::Response> {
    services_.probe.rejected("consent");
    return http::make_problem_response(p, ex.request_id, ex.req.version(), ex.req.keep_alive());
  };
  if (book == nullptr) {
    co_return refuse(http::validation_problem(
        {{"consent_id",
          "this gateway keeps no consents (consents section); send the request "
          "without it"}}));
  }
  const auto& env = parsed.envelope;
  if (env.subject_key() != "citizen_id") {
    if (!needed) {
      co_return refuse(http::validation_problem(
          {{"consent_id", "a consent covers requests about a citizen by citizen_id only"}}));
    }
    book->checked(ex.partner->id, "missing");
    co_return refuse(problem(Status::forbidden, "consent-required",
                             "The citizen's consent is required",
                             "a consent is the citizen's: ask about the citizen by citizen_id",
                             {{"purpose",
                               "needs the citizen's consent, which covers requests "
                               "by citizen_id only"}}));
  }
  if (parsed.consent_id.empty()) {
    book->checked(ex.partner->id, "missing");
    co_return refuse(
        problem(Status::forbidden, "consent-required", "The citizen's consent is required",
                "purpose '" + ex.purpose + "' needs the citizen's consent (Decree 13/2023)",
                {{"consent_id",
                  "required for this purpose: the id the citizen app gave when the "
                  "citizen consented"}}));
  }
  auto found = co_await book->find(parsed.consent_id);
  if (const auto* error = std::get_if<consents::ConsentBook::Unavailable>(&found)) {
    obs::error("consent_check_failed", {{"request_id", ex.request_id}, {"error", error->why}});
    book->checked(ex.partner->id, "unavailable");
    co_return refuse(consent_unavailable());
  }
  auto& consent = std::get<std::optional<consents::Consent>>(found);
  const auto standing =
      consents::standing(consent, ex.partner->id, services_.hasher->hash(env.subject()), ex.purpose,
                         util::unix_ms_now());
  book->checked(ex.partner->id, consents::label(standing));
  if (standing != consents::Standing::kValid) {
    co_return refuse(problem(Status::forbidden, "consent-invalid",
                             "The consent does not cover this request",
                             "the consent presented does not allow this access",
                             {{"consent_id", consents::explain(standing)}}));
  }
  ex.consent = std::move(consent);
  co_return std::nullopt;
}

asio::awaitable<http::Response> ApiHandler::consent_call(Exchange& ex, ParsedRequest parsed) {
  const unsigned version = ex.req.version();
  const bool keep_alive = ex.req.keep_alive();
  auto* book = services_.consents;
  if (book == nullptr || services_.hasher == nullptr || services_.citizen_reads == nullptr ||
      !ex.directory->checks_citizens()) {
    co_return http::make_problem_response(
        problem(Status::service_unavailable, "consents-unavailable", "Consents are not available",
                "this gateway has no consent store (consents) or no citizen identity provider "
                "(auth.citizen) configured"),
        ex.request_id, version, keep_alive);
  }
  // A consent is the citizen's own: only that citizen's token records, withdraws or lists it.
  const std::string citizen = parsed.envelope.subject();
  if (auto refused = refuse_citizen_token(ex, citizen)) co_return std::move(*refused);
  const std::string hash = services_.hasher->hash(citizen);
  const std::int64_t now = util::unix_ms_now();
  const auto as_json = [&](const consents::Consent& c) {
    json::array scope;
    for (const auto& s : c.scope) scope.emplace_back(s);
    const Partner* to = ex.directory->find(c.partner_id);
    return json::object{{"consent_id", c.id},
                        {"partner_id", c.partner_id},
                        {"partner_name", to != nullptr ? to->name : c.partner_id},
                        {"purpose", c.purpose},
                        {"scope", std::move(scope)},
                        {"granted_at", format_utc(c.granted_ms)},
                        {"expires_at", format_utc(c.expires_ms)},
                        {"revoked_at", time_or_null(c.revoked_ms)},
                        {"state", consent_state(c, now)}};
  };
  const auto failed = [&](const consents::ConsentBook::Unavailable& e) {
    obs::error("consent_store_failed", {{"request_id", ex.request_id}, {"error", e.why}});
    return http::make_problem_response(consent_unavailable(), ex.request_id, version, keep_alive);
  };

  if (ex.operation == "list") {
    if (auto refused = spend_citizen_read(ex, citizen)) co_return std::move(*refused);
    auto listed = co_await book->list(hash);
    if (const auto* e = std::get_if<consents::ConsentBook::Unavailable>(&listed))
      co_return failed(*e);
    json::array out;
    for (const auto& c : std::get<std::vector<consents::Consent>>(listed))
      out.push_back(as_json(c));
    co_return http::make_json_response(
        Status::ok,
        json::serialize(json::object{{"request_id", ex.request_id}, {"consents", std::move(out)}}),
        ex.request_id, version, keep_alive);
  }

  if (ex.operation == "revoke") {
    auto revoked = co_await book->revoke(parsed.consent_id, hash, now);
    if (const auto* e = std::get_if<consents::ConsentBook::Unavailable>(&revoked))
      co_return failed(*e);
    const auto& c = std::get<std::optional<consents::Consent>>(revoked);
    if (!c) {
      // Another citizen's consent reads the same as none: ids tell nothing about others.
      co_return http::make_problem_response(
          problem(Status::not_found, "consent-not-found", "No such consent",
                  "this citizen has no consent by this id", {{"consent_id", "not found"}}),
          ex.request_id, version, keep_alive);
    }
    if (c->revoked_ms == now) book->changed("revoked");
    json::object body = as_json(*c);
    body["request_id"] = ex.request_id;
    co_return http::make_json_response(Status::ok, json::serialize(body), ex.request_id, version,
                                       keep_alive);
  }

  // grant: checked against what the gateway knows before anything is recorded.
  const auto& g = parsed.grant;
  std::vector<http::FieldError> errors;
  const Partner* to = ex.directory->find(g.partner_id);
  if (to == nullptr) {
    errors.push_back({"consent.partner_id", "no partner '" + g.partner_id + "'"});
  } else if (!to->may_state(g.purpose)) {
    errors.push_back(
        {"consent.purpose",
         "partner '" + g.partner_id + "' is not registered for purpose '" + g.purpose + "'"});
  }
  if (!book->needs(g.purpose)) {
    errors.push_back({"consent.purpose", "purpose '" + g.purpose +
                                             "' does not need the citizen's consent "
                                             "(consents.purposes)"});
  }
  const std::int64_t expires = end_of_day_ms(g.expires_on);
  if (expires <= now) {
    errors.push_back({"consent.expires_on", "must be today or later"});
  } else if (expires > now + (book->max_days() + 1) * kMsPerDay) {
    errors.push_back({"consent.expires_on", "at most " + std::to_string(book->max_days()) +
                                                " days from today (consents.max_days)"});
  }
  if (!errors.empty()) {
    auto p = http::validation_problem(std::move(errors));
    p.status = Status::unprocessable_entity;
    p.type = "consent-rejected";
    p.title = "The consent cannot be recorded";
    co_return http::make_problem_response(p, ex.request_id, version, keep_alive);
  }
  consents::Consent c{consents::new_consent_id(),
                      hash,
                      g.partner_id,
                      g.purpose,
                      g.scope,
                      now,
                      expires,
                      0,
                      ex.partner->id};
  ex.consent_id = c.id;
  auto added = co_await book->add(c);
  if (const auto* e = std::get_if<consents::ConsentBook::Unavailable>(&added)) co_return failed(*e);
  book->changed("granted");
  json::object body = as_json(c);
  body["request_id"] = ex.request_id;
  co_return http::make_json_response(Status::created, json::serialize(body), ex.request_id, version,
                                     keep_alive);
}

}  // namespace lgsp::gateway
