#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "batch/engine.hpp"
#include "batch/store.hpp"
#include "gateway/admission.hpp"
#include "gateway/auth.hpp"
#include "http/server.hpp"
#include "util/on_pool.hpp"

namespace lgsp::batch {

struct BatchLimits {
  std::int64_t max_records = 50'000'000;
  std::int64_t max_bytes = 20LL << 30;
  std::int64_t max_active_jobs_per_partner = 2;
  std::int64_t max_stored_records_per_partner = 100'000'000;
  std::int64_t max_invalid_records = 100'000;
  std::int64_t max_inflation_ratio = 100;
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
struct Submission;    // api.cpp: a submission's parameters
class RecordSink;     // api.cpp: uploaded records into the store
struct ResultsQuery;  // api.cpp: format and cursor of a results read

class BatchApi {
 public:
  /// Queues the submission's audit event; false when the trail takes no more events (too
  /// many unacknowledged: the job is then discarded and the partner told to retry).
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
  boost::asio::awaitable<http::StreamedResponse> cancel(const Job& job,
                                                        const gateway::Partner& partner,
                                                        const std::string& request_id,
                                                        unsigned version);
  /// The job's results from the query's cursor, streamed a page at a time.
  http::StreamedResponse results(const Job& job, const ResultsQuery& query,
                                 const std::string& request_id, unsigned version);
  /// A retried submission (same Idempotency-Key as `earlier`, the job its first attempt
  /// created): `call` answers with that job, or the problem with the key.
  bool replay(const Job& earlier, const Submission& s, const std::string& request_id,
              unsigned version, BatchCall& call) const;
  /// A new job's limits (rate and quota, the partner's `active_jobs`, the declared size):
  /// the refusal, or nullopt.
  std::optional<http::StreamedResponse> refuse_new_job(
      const http::RequestHead& head, const Submission& s, const gateway::Partner& partner,
      gateway::Admission& admission, const std::string& request_id, std::int64_t active_jobs);
  /// Reads the body into `sink` as it arrives, storing records on the store's own thread
  /// (never an HTTP thread): nullopt once every record is stored, else the problem (the
  /// caller discards the job).
  boost::asio::awaitable<std::optional<http::Problem>> upload(http::BodyReader& body,
                                                              RecordSink& sink,
                                                              const std::string& request_id,
                                                              const std::string& partner_id);
  /// The problem when an upload in progress passes a limit (records, bytes, invalid lines,
  /// the partner's stored records, the gzip inflation ratio after `received` bytes).
  std::optional<http::Problem> over_limits(const RecordSink& sink, std::uint64_t received) const;
  /// The refusal when the store did not create the job (the partner's limits, or an upload
  /// with its Idempotency-Key in progress); nullopt when it did.
  std::optional<http::StreamedResponse> not_created(BatchStore::Creation created, const Job& job,
                                                    const std::string& request_id,
                                                    unsigned version) const;
  http::Problem too_many_jobs(const std::string& partner_id) const;
  /// Starts appending `records` to `job_id` on io_ (the store blocks: disk, fsync) and
  /// returns at once; the append's end is signalled on `ex`, the uploading coroutine's
  /// executor. io_ has one thread, so appends (and a discard after them) keep their order.
  std::shared_ptr<util::PoolTask> start_append(const boost::asio::any_io_executor& ex,
                                               const std::string& job_id,
                                               std::vector<NewRecord> records);
  /// An uploaded job's records against the partner's daily quota, then the job's audit
  /// event: nullopt when both pass, else the problem (the caller discards the job).
  std::optional<http::Problem> admit_records(const Job& job, const RecordSink& sink,
                                             const gateway::Partner& partner,
                                             gateway::Admission& admission,
                                             const AuditSubmission& audit_submission);
  /// After the upload: the job discarded when `failed` (the refusal in `call`), else queued
  /// and answered 202.
  boost::asio::awaitable<BatchCall> conclude(const Job& job, const RecordSink& sink,
                                             std::optional<http::Problem> failed,
                                             const std::string& request_id, unsigned version,
                                             BatchCall call);
  /// The 202 answer for the stored, audited job, now queued.
  http::Response accept(const Job& job, const RecordSink& sink, const std::string& request_id,
                        unsigned version) const;

  BatchLimits limits_;
  batch::BatchStore& store_;
  BatchEngine& engine_;
  /// Every job-store call of the API runs here (the store blocks: disk, fsync), never on an
  /// HTTP thread; one at a time per store connection anyway.
  boost::asio::thread_pool io_{1};
};

}  // namespace lgsp::batch
