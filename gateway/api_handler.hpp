#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <variant>

#include "batch/api.hpp"
#include "changes/api.hpp"
#include "consents/book.hpp"
#include "gateway/access_log.hpp"
#include "gateway/admission.hpp"
#include "gateway/anonymous_failures.hpp"
#include "gateway/audit_publisher.hpp"
#include "gateway/auth.hpp"
#include "gateway/bus_client.hpp"
#include "gateway/citizen_reads.hpp"
#include "gateway/gateway_probe.hpp"
#include "gateway/rate_limiter.hpp"
#include "gateway/validation.hpp"
#include "gateway/verify_guard.hpp"
#include "http/server.hpp"
#include "procedures/api.hpp"

namespace lgsp::gateway {

/// What the API handler works with besides the partners. The gateway owns all of them and
/// outlives the handler's use of them.
struct ApiServices {
  BusClient& bus;
  GatewayProbe& probe;
  std::chrono::milliseconds deadline;
  AuditPublisher* audit = nullptr;                 // null: audit off (benchmarks only)
  const SubjectHasher* hasher = nullptr;           // set whenever audit or the access log is on
  AccessLogReader* access_log = nullptr;           // null: POST /v1/audit/access-log answers 503
  CitizenReads* citizen_reads = nullptr;           // set with access_log: reads per citizen and day
  batch::BatchApi* batches = nullptr;              // null: /v1/batches answers 503 (not configured)
  procedures::ProcedureApi* procedures = nullptr;  // null: /v1/procedures answers 503
  changes::ChangesApi* changes = nullptr;          // null: /v1/changes answers 503
  consents::ConsentBook* consents = nullptr;  // null: no purpose needs consent; /v1/consents 503
  AnonymousFailures* anonymous_failures = nullptr;  // null: every failure is its own event
  VerifyGuard* verify_guard = nullptr;              // null: no limit on failed verifications
  QuotaLedger* quota_ledger = nullptr;  // null: daily quotas counted by this process alone
  /// How many replicas share the partners' rate limits (null: this process alone).
  const std::atomic<int>* replicas = nullptr;
};

/// The partner-facing API. Each request goes through one pipeline of small stages:
/// admission (draining) → route → authenticate → authorise → rate limit and quota →
/// validate → purpose → field scope → publish → await reply → audit → respond. Every stage
/// either continues or answers with problem+json; every answer carries X-Request-Id, is
/// counted by route, partner and status, and produces one audit event (no data is released
/// unless its event was acknowledged by the cluster). Thread-safe: one instance serves all
/// connections; the partner directory is swapped whole by reload() while requests run.
class ApiHandler final : public http::Handler {
 public:
  ApiHandler(std::shared_ptr<const PartnerDirectory> partners, ApiServices services);

  boost::asio::awaitable<http::Response> handle(http::Request req,
                                                const http::PeerInfo& peer) override;
  /// Bulk jobs (/v1/batches…) stream their bodies both ways.
  bool streams(const http::RequestHead& head) const override;
  boost::asio::awaitable<http::StreamedResponse> handle_stream(http::RequestHead head,
                                                               http::BodyReader& body,
                                                               const http::PeerInfo& peer) override;
  /// New requests get 503 from now on; those in flight finish.
  void drain() {
    draining_ = true;
    record_aggregates(true);
  }
  /// Takes effect for requests that start after it returns; rate and quota state is kept.
  void reload(std::shared_ptr<const PartnerDirectory> partners);
  /// Daily quota use per partner (for the lgsp_gateway_quota_* gauges).
  std::vector<RateLimiter::QuotaUse> quota_use() {
    return limiter_.quota_use(std::chrono::system_clock::now());
  }

 private:
  struct Exchange;
  /// A new exchange: request id, the partners now, the clock, the trace; counted in flight.
  Exchange open_exchange(std::string_view traceparent);
  /// /v1/procedures… and /v1/changes: admission, authentication, then the procedure or the
  /// change feed API (which authorises, limits and validates itself).
  boost::asio::awaitable<http::Response> module_call(Exchange& ex, const http::PeerInfo& peer,
                                                     bool changes);
  /// The interactive pipeline's admission (Admission's steps, plus route, method, media
  /// type and validation): the parsed request, or the problem to answer. `limits` is set
  /// once the limits were consulted.
  std::variant<ParsedRequest, http::Problem> admit(Exchange& ex, const http::PeerInfo& peer,
                                                   std::optional<RateLimiter::Decision>& limits);
  boost::asio::awaitable<http::Response> dispatch(Exchange& ex, ParsedRequest parsed);
  boost::asio::awaitable<http::Response> registry_call(Exchange& ex, ParsedRequest parsed);
  boost::asio::awaitable<http::Response> citizen_profile(Exchange& ex, ParsedRequest parsed);
  struct ProfilePart;
  /// The profile's lookups, one per part, published at once and awaited together (each ends
  /// by its reply, an error or the request's deadline).
  boost::asio::awaitable<void> ask_registries(Exchange& ex, const ParsedRequest& parsed,
                                              std::vector<ProfilePart>& parts);
  /// The profile's answer from its parts; the subjects they touched and the fields they
  /// released go to the exchange's audit event.
  boost::json::object join_profile(Exchange& ex, const std::vector<ProfilePart>& parts) const;
  boost::asio::awaitable<http::Response> access_log(Exchange& ex, ParsedRequest parsed);
  /// POST /v1/consents, /v1/consents/revoke, /v1/consents/list: the citizen app records,
  /// withdraws and lists a citizen's consents, with that citizen's token.
  boost::asio::awaitable<http::Response> consent_call(Exchange& ex, ParsedRequest parsed);
  /// A request whose purpose needs the citizen's consent, or that presents one: the consent
  /// checked in the store before any data moves (nullopt: go on, with ex's consent set), or
  /// the answer that refuses it.
  boost::asio::awaitable<std::optional<http::Response>> check_consent(Exchange& ex,
                                                                      const ParsedRequest& parsed);
  /// A lookup's or verification's envelope cut to the exchange's consent scope for its
  /// registry: nullopt when it may go (fields narrowed), else why not.
  std::optional<http::Problem> within_consent(const Exchange& ex, bus::v1::Request& env,
                                              bool fields_named) const;
  /// The Citizen-Token check shared by the citizen's own routes (access log, consents): the
  /// answer refusing the request, or nullopt when the token is `citizen_id`'s.
  std::optional<http::Response> refuse_citizen_token(const Exchange& ex,
                                                     const std::string& citizen_id) const;
  /// One read of the citizen's own records (the access log, the consent list) against the
  /// citizen's daily budget: the 429/503 answer, or nullopt.
  std::optional<http::Response> spend_citizen_read(const Exchange& ex,
                                                   const std::string& citizen_id) const;
  /// A request naming a lawful investigation: withheld from access logs for the partner's
  /// granted period, or refused when the partner has none.
  std::optional<http::Problem> withhold(Exchange& ex, const std::string& reference) const;
  /// Why this access-log read may not go ahead (no citizen token for this citizen, the
  /// citizen's daily reads spent), or nothing.
  std::optional<http::Response> refuse_access_log_read(const Exchange& ex,
                                                       const ParsedRequest& parsed) const;
  /// Fills partner identity, matching policy and deadline; lookups get their field scope
  /// (nullopt = allowed, else the problem to answer).
  /// The answer to a request refused before a partner was known: `refused`, or 429 when
  /// its client address is over its failure budget (then aggregated, not audited alone).
  http::Response anonymous_failure(Exchange& ex, const http::Problem& refused) const;
  /// Sends the aggregate audit events of over-budget anonymous failures that are due (or
  /// all of them).
  void record_aggregates(bool all) const;
  /// Charges the verification to the partner's failed-verification budget (`charge`), or
  /// the 429 when it has failed too many of this subject lately.
  std::optional<http::Response> guard_verify(const Exchange& ex, const bus::v1::Request& env,
                                             std::optional<VerifyCharge>& charge) const;
  std::optional<http::Problem> complete_envelope(const Exchange& ex, ParsedRequest& parsed) const;
  /// The end of every answer: in-flight gauge, request metrics, the access log line.
  void conclude(const Exchange& ex, int status, double seconds);
  /// 503 audit-unavailable while too many audit events await acknowledgement.
  std::optional<http::Problem> audit_backlog() const;
  /// The exchange's audit event.
  bus::v1::AuditEvent audit_event(const Exchange& ex, int status, std::int64_t latency_us) const;
  /// The audit event of an answer about to go: nullopt when it may go, else the problem that
  /// replaces it. A data-bearing answer (2xx) waits until its event is durable and releases
  /// nothing if it does not become so in time; a refusal only queues its event.
  boost::asio::awaitable<std::optional<http::Problem>> account(const Exchange& ex, int status,
                                                               double seconds);
  /// Records a bulk submission's own audit event, before its job is queued.
  batch::BatchApi::AuditSubmission submission_auditor(const Exchange& ex);

  std::shared_ptr<const PartnerDirectory> partners() const;

  // Held only to copy or swap the pointer; requests keep their copy, so a reload never
  // pulls a partner out from under a request in flight.
  mutable std::mutex partners_mu_;
  std::shared_ptr<const PartnerDirectory> partners_;
  ApiServices services_;
  RateLimiter limiter_{services_.quota_ledger, services_.replicas};
  Admission admission_{services_.probe, limiter_, services_.consents};
  std::atomic<bool> draining_{false};
};

}  // namespace lgsp::gateway
