#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>
#include <string_view>

#include "batch/engine.hpp"
#include "batch/store.hpp"
#include "gateway/admission.hpp"
#include "gateway/auth.hpp"
#include "http/server.hpp"

namespace lgsp::batch {

struct BatchLimits {
  std::int64_t max_records = 50'000'000;
  std::int64_t max_bytes = 20LL << 30;
  std::int64_t max_active_jobs_per_partner = 2;
};

/// What one call to the bulk-job API did, for the handler's metrics and audit trail.
struct BatchCall {
  http::StreamedResponse res;
  std::string batch_id;
  std::int64_t subject_count = 0;
  std::string registry;
  std::string purpose;
  std::string procedure_code;
  /// The call produced its own audit event (a submission's, before its job was queued).
  bool audited = false;
};

/// The bulk-job API (`/v1/batches…`), behind the API handler's authentication:
/// - POST /v1/batches?registry=R&operation=verify&purpose=P[&procedure_code=C] with an
///   NDJSON or CSV body (gzip allowed), streamed record by record into the store: each
///   record is validated like an interactive request; an invalid one becomes that record's
///   result. Answers 202 with the job, once the whole body is stored and its audit event
///   queued. Idempotency-Key makes a retried submission return the job it created.
/// - GET /v1/batches/{id}: state, counts, rate, ETA.
/// - GET /v1/batches/{id}/results[?format=csv]: the answered records in input order,
///   streamed, up to the first record still unanswered.
/// - DELETE /v1/batches/{id}: cancels a queued or running job.
/// A partner sees only its own jobs (another's id answers 404).
class BatchApi {
 public:
  /// Queues the submission's audit event; false when it could not be (the job is then
  /// discarded and the partner told to retry).
  using AuditSubmission = std::function<bool(const batch::Job& job, std::int64_t subjects)>;

  BatchApi(BatchLimits limits, batch::BatchStore& store, BatchEngine& engine);

  /// True for a target under /v1/batches.
  static bool matches(std::string_view target);
  /// The route template (a bounded metric label: "/v1/batches", "/v1/batches/{id}",
  /// "/v1/batches/{id}/results" or "other") and the action (submit, status, results,
  /// cancel, or "other") of a request.
  static std::pair<std::string_view, std::string_view> classify(const http::RequestHead& head);

  /// One call of an authenticated partner. A submission passes `admission`'s authorisation,
  /// purpose and limits (one request of `<registry>.batch-verify` against the rate limit and
  /// the daily quota) before its body is read.
  boost::asio::awaitable<BatchCall> handle(const http::RequestHead& head, http::BodyReader& body,
                                           const gateway::Partner& partner,
                                           const std::string& request_id,
                                           gateway::Admission& admission,
                                           AuditSubmission audit_submission);

 private:
  boost::asio::awaitable<BatchCall> submit(const http::RequestHead& head, http::BodyReader& body,
                                           const gateway::Partner& partner,
                                           const std::string& request_id,
                                           gateway::Admission& admission,
                                           const AuditSubmission& audit_submission);

  BatchLimits limits_;
  batch::BatchStore& store_;
  BatchEngine& engine_;
};

}  // namespace lgsp::batch
