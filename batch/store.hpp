#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lgsp::batch {

/// A bulk job's life: uploading (body still arriving; discarded if the upload fails or the
/// process restarts) → queued (stored whole, waiting for a slot) → running → completed.
/// Cancelled (by its partner) and failed (no progress for too long) are also terminal.
enum class JobState { kUploading, kQueued, kRunning, kCompleted, kFailed, kCancelled };
std::string_view to_string(JobState s);
std::optional<JobState> job_state_from(std::string_view s);
inline bool is_terminal(JobState s) {
  return s == JobState::kCompleted || s == JobState::kFailed || s == JobState::kCancelled;
}

/// What a record's result says. `invalid` is decided at upload (the line did not validate);
/// the others come from the registry's answer.
enum class Outcome { kMatched, kMismatched, kNotFound, kInvalid, kFailed };
std::string_view to_string(Outcome o);

struct Counts {
  std::int64_t total = 0;  // records stored so far (the whole job once uploaded)
  std::int64_t done = 0;   // records with a result (every outcome)
  std::int64_t matched = 0;
  std::int64_t mismatched = 0;
  std::int64_t not_found = 0;
  std::int64_t invalid = 0;
  std::int64_t failed = 0;
};

struct Job {
  std::string id;
  std::string partner_id;
  std::string registry;   // population | insurance | vehicle
  std::string operation;  // verify
  std::string purpose;
  std::string procedure_code;
  std::string format;           // ndjson | csv (of the upload)
  std::string idempotency_key;  // "" = none
  /// What the submission asked for (registry, operation, purpose, format, ...), so a reused
  /// Idempotency-Key with different parameters can be refused.
  std::string fingerprint;
  std::string request_id;  // of the submission
  /// Encoded bus::v1::Request with the job-wide fields (registry, operation, partner, purpose,
  /// matching policy); each record's request is merged onto it at dispatch.
  std::string template_request;
  JobState state = JobState::kUploading;
  Counts counts;
  std::int64_t created_ms = 0;  // unix ms
  std::int64_t started_ms = 0;  // 0 = not yet
  std::int64_t finished_ms = 0;
  std::int64_t last_progress_ms = 0;  // last time a result was recorded (or the job started)
  std::string error;                  // why it failed; never personal data
  /// The gateway instance working the job (uploading it, or running it) and until when its
  /// lease holds; queued jobs are anyone's to start. See BatchStore::claim().
  std::string owner;
  std::int64_t lease_until_ms = 0;
};

/// What BatchStore::claim() did for one instance.
struct Claim {
  /// The jobs the instance runs now, their leases renewed, oldest first.
  std::vector<Job> running;
  /// Uploads whose instance's lease ran out (it died mid-upload, so the client never got an
  /// answer and retries with its Idempotency-Key): deleted with their records.
  std::vector<Job> discarded;
  /// Running jobs of instances whose lease ran out, now this instance's.
  std::vector<std::string> taken_over;
};

/// One record as uploaded: a request to dispatch, or (invalid line) its result already.
struct NewRecord {
  std::int64_t line = 0;  // 1-based record number within the job
  std::string request;    // encoded per-record bus::v1::Request; empty when invalid
  std::string result;     // invalid lines: the result line (JSON); otherwise empty
};

struct PendingRecord {
  std::int64_t line = 0;
  std::string request;
};

struct RecordResult {
  std::int64_t line = 0;
  Outcome outcome = Outcome::kFailed;
  std::string result;  // the result line (JSON, no trailing newline)
};

struct ResultRow {
  std::int64_t line = 0;
  std::optional<std::string> result;  // nullopt: not answered yet
};

/// Durable state of bulk jobs: the jobs, their records (the validated requests) and their
/// results. The source of truth: Kafka only carries records to the connectors and back, so
/// a restarted gateway re-sends whatever has no result yet. Exactly one result per record
/// (the first recorded wins), whichever instance records it. Thread-safe.
///
/// Several gateway instances may share one store (PostgreSQL): each works the jobs it holds
/// a lease on (claim()), renews them while alive, and takes over those whose lease ran out.
/// Two instances working one job for a moment (a lease taken over from an instance that was
/// only slow) cost duplicate dispatches, never a second result.
/// Errors (disk full, corrupt file, server gone) throw std::runtime_error naming the store.
class BatchStore {
 public:
  virtual ~BatchStore() = default;

  /// Inserts a new job (state uploading, held by `job.owner` until `job.lease_until_ms`).
  /// False if `job.id` exists, or if the partner already has a job with the same non-empty
  /// idempotency key.
  virtual bool create_job(const Job& job) = 0;
  /// What create_job_within() did.
  enum class Creation { kCreated, kExists, kTooManyActive, kStorageFull };
  /// create_job() under the partner's limits, checked and applied in one transaction, so
  /// parallel submissions cannot both pass: refused when the partner already has
  /// `max_active` jobs uploading, queued or running, or holds `max_stored_records` records
  /// or more in the jobs kept (until retention deletes them).
  virtual Creation create_job_within(const Job& job, std::int64_t max_active,
                                     std::int64_t max_stored_records) = 0;
  /// Records the partner's kept jobs hold (uploads in progress included).
  virtual std::int64_t stored_records(std::string_view partner_id) = 0;
  virtual std::optional<Job> find_job(std::string_view id) = 0;
  virtual std::optional<Job> find_by_idempotency_key(std::string_view partner_id,
                                                     std::string_view key) = 0;
  /// Stores uploaded records in one transaction and adds them to the counts (total; done and
  /// invalid for invalid ones).
  virtual void append(std::string_view job_id, const std::vector<NewRecord>& records) = 0;
  /// State change; sets started_ms when entering running, finished_ms when entering a
  /// terminal state, `error` when given. Returns false (and changes nothing) when the job
  /// is missing or already terminal.
  virtual bool set_state(std::string_view job_id, JobState state, std::int64_t now_ms,
                         std::string_view error = {}) = 0;
  /// Deletes a job and all its records.
  virtual void discard(std::string_view job_id) = 0;
  /// Jobs in any of `states`, oldest first.
  virtual std::vector<Job> jobs_in(const std::vector<JobState>& states) = 0;
  /// How many of the partner's jobs are uploading, queued or running.
  virtual std::int64_t active_jobs(std::string_view partner_id) = 0;

  /// Up to `limit` records after `after_line` that have a request and no result, in order.
  virtual std::vector<PendingRecord> pending(std::string_view job_id, std::int64_t after_line,
                                             std::size_t limit) = 0;
  /// Records results in one transaction; a record that already has one keeps it. Adds the
  /// newly recorded ones to the counts, sets last_progress_ms. Returns how many were new.
  /// A finished job (completed, failed, cancelled) takes none: it records nothing.
  virtual std::int64_t record_results(std::string_view job_id,
                                      const std::vector<RecordResult>& results,
                                      std::int64_t now_ms) = 0;
  /// Up to `limit` records after `after_line`, in order, with their result if any.
  virtual std::vector<ResultRow> results(std::string_view job_id, std::int64_t after_line,
                                         std::size_t limit) = 0;
  /// Deletes terminal jobs finished before `before_ms` (retention); returns how many.
  virtual std::int64_t purge_finished(std::int64_t before_ms) = 0;
  /// Job counts per state (for the lgsp_batch_jobs gauge).
  virtual std::vector<std::pair<JobState, std::int64_t>> count_by_state() = 0;

  /// One instance's turn, in one transaction: renews the leases of `owner`'s unfinished jobs
  /// (until now + lease_ms), deletes uploads whose owner's lease ran out, takes over running
  /// jobs whose owner's lease ran out and starts queued jobs (oldest first) while `owner`
  /// runs fewer than `max_running`. Concurrent claims never hand one job to two owners.
  /// In a store only one process uses (shared() false), any other owner is a previous run
  /// of that process: its uploads are deleted and its jobs taken over at once.
  virtual Claim claim(std::string_view owner, std::int64_t now_ms, std::int64_t lease_ms,
                      std::size_t max_running) = 0;
  /// Ends `owner`'s leases (it stops): its running jobs are anyone's to take over and its
  /// unfinished uploads anyone's to delete, at the next claim.
  virtual void release(std::string_view owner) = 0;
  /// Whether several processes may use the store at once.
  virtual bool shared() const = 0;
};

/// The embedded store: one SQLite file (WAL), created when missing; one process at a time.
std::unique_ptr<BatchStore> open_sqlite_batch_store(const std::string& path);
/// The shared store: tables batch_jobs and batch_records in the PostgreSQL database named by
/// `dsn` (created when missing), for several gateway instances at once.
std::unique_ptr<BatchStore> open_postgres_batch_store(const std::string& dsn);

}  // namespace lgsp::batch
