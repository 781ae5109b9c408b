#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

#include "batch/store.hpp"
#include "util/sqlite.hpp"

namespace lgsp::batch {
namespace {

namespace sq = sqlite;
using sq::ResetGuard;

// STRICT: a hand edit cannot slip text into a counter. records is keyed (job_id, line) without
// a rowid, so pending() and results() are range scans of the primary key and a job's records
// sit together on disk. Invalid lines are stored with their result and no request, so
// "result IS NULL" alone means "still to dispatch".
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS jobs ("
    " id TEXT PRIMARY KEY NOT NULL, partner_id TEXT NOT NULL, registry TEXT NOT NULL,"
    " operation TEXT NOT NULL, purpose TEXT NOT NULL, procedure_code TEXT NOT NULL,"
    " format TEXT NOT NULL, idempotency_key TEXT NOT NULL, fingerprint TEXT NOT NULL,"
    " request_id TEXT NOT NULL, template_request BLOB NOT NULL, state TEXT NOT NULL,"
    " total INTEGER NOT NULL, done INTEGER NOT NULL, matched INTEGER NOT NULL,"
    " mismatched INTEGER NOT NULL, not_found INTEGER NOT NULL, invalid INTEGER NOT NULL,"
    " failed INTEGER NOT NULL, created_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL,"
    " finished_ms INTEGER NOT NULL, last_progress_ms INTEGER NOT NULL, error TEXT NOT NULL,"
    " owner TEXT NOT NULL DEFAULT '', lease_until_ms INTEGER NOT NULL DEFAULT 0) STRICT;"
    "CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency ON jobs (partner_id, idempotency_key)"
    " WHERE idempotency_key <> '';"
    "CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created_ms, id);"
    "CREATE INDEX IF NOT EXISTS jobs_partner_state ON jobs (partner_id, state);"
    "CREATE TABLE IF NOT EXISTS records ("
    " job_id TEXT NOT NULL, line INTEGER NOT NULL, request BLOB, result TEXT,"
    " PRIMARY KEY (job_id, line)) WITHOUT ROWID, STRICT;";

// The order read_job() expects.
constexpr const char* kJobColumns =
    "id, partner_id, registry, operation, purpose, procedure_code, format, idempotency_key,"
    " fingerprint, request_id, template_request, state, total, done, matched, mismatched,"
    " not_found, invalid, failed, created_ms, started_ms, finished_ms, last_progress_ms, error,"
    " owner, lease_until_ms";

constexpr const char* kTerminal = "('completed', 'failed', 'cancelled')";

constexpr int kOpenFlags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

/// Binds bytes without copying (as sq::bind_text); empty binds NULL when `empty_is_null`,
/// else a zero-length blob (a NULL data pointer would bind NULL).
void bind_blob(sqlite3_stmt* s, int index, std::string_view bytes, bool empty_is_null) {
  if (bytes.empty()) {
    if (empty_is_null) {
      sqlite3_bind_null(s, index);
    } else {
      sqlite3_bind_zeroblob(s, index, 0);
    }
    return;
  }
  sqlite3_bind_blob(s, index, bytes.data(), static_cast<int>(bytes.size()), nullptr);
}

std::string column_blob(sqlite3_stmt* s, int index) {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(s, index));
  if (p == nullptr) return {};
  return {p, static_cast<std::size_t>(sqlite3_column_bytes(s, index))};
}

std::int64_t clamp_limit(std::size_t limit) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(std::min(limit, kMax));
}

std::size_t outcome_index(Outcome o) { return static_cast<std::size_t>(o); }

/// One SQLite connection behind a mutex: every call is short (one transaction of at most a
/// few hundred rows), except discard() and purge_finished() of big jobs.
class SqliteBatchStore final : public BatchStore {
 public:
  explicit SqliteBatchStore(std::string path) : path_(std::move(path)) {
    try {
      if (const auto dir = std::filesystem::path(path_).parent_path(); !dir.empty()) {
        std::filesystem::create_directories(dir);
      }
      db_ = sq::open(path_, kOpenFlags);
      // NORMAL: a power cut may lose the last transactions but never corrupts the file, and
      // what it loses is re-done: results come back by re-dispatching records without one,
      // and an upload cut short is discarded anyway. journal_size_limit: the WAL of a big
      // discard is truncated after its checkpoint instead of keeping its size on disk.
      sq::exec(db_.get(),
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
               " PRAGMA journal_size_limit=67108864;");
      sq::exec(db_.get(), kSchema);
      add_lease_columns();
      prepare_statements();
    } catch (const std::exception& e) {
      throw std::runtime_error("batch store " + path_ + ": open failed: " + e.what());
    }
  }

  /// The store owns state and counts: a new job starts uploading with nothing counted, so
  /// the counts always describe the records actually stored. job.state and job.counts are
  /// ignored.
  bool create_job(const Job& job) override {
    std::lock_guard lock(mu_);
    return insert_job(job);
  }

  Creation create_job_within(const Job& job, std::int64_t max_active,
                             std::int64_t max_stored_records) override {
    std::lock_guard lock(mu_);
    Transaction tx(*this, "create job");
    if (count_for(active_jobs_.get(), job.partner_id, "count active jobs") >= max_active)
      return Creation::kTooManyActive;
    if (count_for(stored_records_.get(), job.partner_id, "count stored records") >=
        max_stored_records)
      return Creation::kStorageFull;
    if (!insert_job(job)) return Creation::kExists;
    tx.commit();
    return Creation::kCreated;
  }

  std::int64_t stored_records(std::string_view partner_id) override {
    std::lock_guard lock(mu_);
    return count_for(stored_records_.get(), partner_id, "count stored records");
  }

 private:
  /// A count query bound to one partner.
  std::int64_t count_for(sqlite3_stmt* s, std::string_view partner_id, const char* what) {
    ResetGuard reset(s);
    sq::bind_text(s, 1, partner_id);
    return step_row(s, what) ? sqlite3_column_int64(s, 0) : 0;
  }

  /// Inserts a job (mu_ held); false when its id or idempotency key exists.
  bool insert_job(const Job& job) {
    sqlite3_stmt* s = insert_job_.get();
    ResetGuard reset(s);
    const std::array<std::string_view, 10> text{
        job.id,     job.partner_id,     job.registry,        job.operation,   job.purpose,
        job.format, job.procedure_code, job.idempotency_key, job.fingerprint, job.request_id};
    for (std::size_t i = 0; i < text.size(); ++i) {
      sq::bind_text(s, static_cast<int>(i) + 1, text[i]);
    }
    bind_blob(s, 11, job.template_request, false);
    sq::bind_text(s, 12, to_string(JobState::kUploading));
    const std::array<std::int64_t, 4> times{job.created_ms, job.started_ms, job.finished_ms,
                                            job.last_progress_ms};
    for (std::size_t i = 0; i < times.size(); ++i) {
      sqlite3_bind_int64(s, static_cast<int>(i) + 13, times[i]);
    }
    sq::bind_text(s, 17, job.error);
    sq::bind_text(s, 18, job.owner);
    sqlite3_bind_int64(s, 19, job.lease_until_ms);
    step_done(s, "create job");
    return sqlite3_changes(db_.get()) == 1;
  }

 public:
  std::optional<Job> find_job(std::string_view id) override {
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = find_job_.get();
    ResetGuard reset(s);
    sq::bind_text(s, 1, id);
    if (!step_row(s, "find job")) return std::nullopt;
    return read_job(s);
  }

  std::optional<Job> find_by_idempotency_key(std::string_view partner_id,
                                             std::string_view key) override {
    if (key.empty()) return std::nullopt;  // "" means no key: never a match
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = find_by_key_.get();
    ResetGuard reset(s);
    sq::bind_text(s, 1, partner_id);
    sq::bind_text(s, 2, key);
    if (!step_row(s, "find job by idempotency key")) return std::nullopt;
    return read_job(s);
  }

  void append(std::string_view job_id, const std::vector<NewRecord>& records) override {
    std::lock_guard lock(mu_);
    Transaction tx(*this, "append");
    std::int64_t added = 0;
    std::int64_t invalid = 0;
    sqlite3_stmt* s = insert_record_.get();
    for (const auto& r : records) {
      if (r.request.empty() && r.result.empty()) {
        // It could never be dispatched nor answered: the job would never complete.
        throw std::invalid_argument("batch store " + path_ + ": append: record " +
                                    std::to_string(r.line) + " has neither request nor result");
      }
      sq::bind_text(s, 1, job_id);
      sqlite3_bind_int64(s, 2, r.line);
      bind_blob(s, 3, r.request, true);
      if (r.result.empty()) {
        sqlite3_bind_null(s, 4);
      } else {
        sq::bind_text(s, 4, r.result);
      }
      step_done(s, "append");
      // A line already stored keeps what it has and is not counted twice.
      if (sqlite3_changes(db_.get()) != 1) continue;
      ++added;
      if (!r.result.empty()) ++invalid;
    }
    sqlite3_stmt* u = add_records_.get();
    sq::bind_text(u, 1, job_id);
    sqlite3_bind_int64(u, 2, added);
    sqlite3_bind_int64(u, 3, invalid);
    step_done(u, "append");
    if (sqlite3_changes(db_.get()) != 1) {
      fail("append", "no job " + std::string(job_id));
    }
    tx.commit();
  }

  bool set_state(std::string_view job_id, JobState state, std::int64_t now_ms,
                 std::string_view error) override {
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = set_state_.get();
    ResetGuard reset(s);
    sq::bind_text(s, 1, job_id);
    sq::bind_text(s, 2, to_string(state));
    sqlite3_bind_int64(s, 3, now_ms);
    sqlite3_bind_int(s, 4, state == JobState::kRunning ? 1 : 0);
    sqlite3_bind_int(s, 5, is_terminal(state) ? 1 : 0);
    sq::bind_text(s, 6, error);
    step_done(s, "set state");
    return sqlite3_changes(db_.get()) == 1;
  }

  void discard(std::string_view job_id) override {
    std::lock_guard lock(mu_);
    Transaction tx(*this, "discard");
    delete_job(job_id);
    tx.commit();
  }

  std::vector<Job> jobs_in(const std::vector<JobState>& states) override {
    std::vector<JobState> wanted = states;
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    std::vector<Job> out;
    {
      std::lock_guard lock(mu_);
      // One indexed query per state (a prepared statement cannot take a variable IN list),
      // merged below; all in one read transaction so they see the same snapshot.
      Transaction tx(*this, "list jobs", false);
      sqlite3_stmt* s = jobs_in_state_.get();
      for (const JobState state : wanted) {
        ResetGuard reset(s);
        sq::bind_text(s, 1, to_string(state));
        while (step_row(s, "list jobs")) out.push_back(read_job(s));
      }
      tx.commit();
    }
    std::sort(out.begin(), out.end(), [](const Job& a, const Job& b) {
      return a.created_ms != b.created_ms ? a.created_ms < b.created_ms : a.id < b.id;
    });
    return out;
  }

  std::int64_t active_jobs(std::string_view partner_id) override {
    std::lock_guard lock(mu_);
    return count_for(active_jobs_.get(), partner_id, "count active jobs");
  }

  std::vector<PendingRecord> pending(std::string_view job_id, std::int64_t after_line,
                                     std::size_t limit) override {
    std::vector<PendingRecord> out;
    if (limit == 0) return out;
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = pending_.get();
    ResetGuard reset(s);
    sq::bind_text(s, 1, job_id);
    sqlite3_bind_int64(s, 2, after_line);
    sqlite3_bind_int64(s, 3, clamp_limit(limit));
    while (step_row(s, "list pending records")) {
      out.push_back({sqlite3_column_int64(s, 0), column_blob(s, 1)});
    }
    return out;
  }

  std::int64_t record_results(std::string_view job_id, const std::vector<RecordResult>& results,
                              std::int64_t now_ms) override {
    std::lock_guard lock(mu_);
    Transaction tx(*this, "record results");
    {
      // A finished job takes no more results: a reply that was on its way when the job was
      // cancelled (or failed) must not change what its owner was already told.
      ResetGuard reset(is_open_.get());
      sq::bind_text(is_open_.get(), 1, job_id);
      if (!step_row(is_open_.get(), "record results")) return 0;
    }
    std::array<std::int64_t, 5> added{};  // by Outcome
    std::int64_t total = 0;
    sqlite3_stmt* s = set_result_.get();
    for (const auto& r : results) {
      sq::bind_text(s, 1, r.result);
      sq::bind_text(s, 2, job_id);
      sqlite3_bind_int64(s, 3, r.line);
      step_done(s, "record results");
      // 0 changes: answered already (a redelivery, or a re-dispatch after a restart), or no
      // such record; the first result stays.
      if (sqlite3_changes(db_.get()) != 1) continue;
      ++added.at(outcome_index(r.outcome));
      ++total;
    }
    if (total > 0) {
      sqlite3_stmt* u = add_results_.get();
      sq::bind_text(u, 1, job_id);
      sqlite3_bind_int64(u, 2, total);
      sqlite3_bind_int64(u, 3, added[outcome_index(Outcome::kMatched)]);
      sqlite3_bind_int64(u, 4, added[outcome_index(Outcome::kMismatched)]);
      sqlite3_bind_int64(u, 5, added[outcome_index(Outcome::kNotFound)]);
      sqlite3_bind_int64(u, 6, added[outcome_index(Outcome::kInvalid)]);
      sqlite3_bind_int64(u, 7, added[outcome_index(Outcome::kFailed)]);
      sqlite3_bind_int64(u, 8, now_ms);
      step_done(u, "record results");
    }
    tx.commit();
    return total;
  }

  std::vector<ResultRow> results(std::string_view job_id, std::int64_t after_line,
                                 std::size_t limit) override {
    std::vector<ResultRow> out;
    if (limit == 0) return out;
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = results_.get();
    ResetGuard reset(s);
    sq::bind_text(s, 1, job_id);
    sqlite3_bind_int64(s, 2, after_line);
    sqlite3_bind_int64(s, 3, clamp_limit(limit));
    while (step_row(s, "list results")) {
      ResultRow row{sqlite3_column_int64(s, 0), std::nullopt};
      if (sqlite3_column_type(s, 1) != SQLITE_NULL) row.result = sq::column_text(s, 1);
      out.push_back(std::move(row));
    }
    return out;
  }

  std::int64_t purge_finished(std::int64_t before_ms) override {
    std::lock_guard lock(mu_);
    Transaction tx(*this, "purge finished jobs");
    std::vector<std::string> ids;
    {
      sqlite3_stmt* s = finished_before_.get();
      ResetGuard reset(s);
      sqlite3_bind_int64(s, 1, before_ms);
      while (step_row(s, "purge finished jobs")) ids.push_back(sq::column_text(s, 0));
    }
    for (const auto& id : ids) delete_job(id);
    tx.commit();
    return static_cast<std::int64_t>(ids.size());
  }

  std::vector<std::pair<JobState, std::int64_t>> count_by_state() override {
    std::lock_guard lock(mu_);
    std::vector<std::pair<JobState, std::int64_t>> out;
    sqlite3_stmt* s = count_by_state_.get();
    ResetGuard reset(s);
    while (step_row(s, "count jobs by state")) {
      out.emplace_back(state_of(sq::column_text(s, 0)), sqlite3_column_int64(s, 1));
    }
    return out;
  }

  Claim claim(std::string_view owner, std::int64_t now_ms, std::int64_t lease_ms,
              std::size_t max_running) override {
    std::lock_guard lock(mu_);
    Transaction tx(*this, "claim jobs");
    const std::int64_t until = now_ms + lease_ms;
    Claim out;
    sqlite3_stmt* s = renew_.get();
    sq::bind_text(s, 1, owner);
    sqlite3_bind_int64(s, 2, until);
    step_done(s, "claim jobs");
    // Only this process uses the file: any other owner is a previous run of it.
    out.discarded = select_jobs(others_uploads_.get(), owner, "claim jobs");
    for (const auto& job : out.discarded) delete_job(job.id);
    const std::int64_t mine = count_for(running_of_.get(), owner, "claim jobs");
    std::int64_t room = clamp_limit(max_running) - mine;
    if (room > 0) {
      s = take_over_.get();
      ResetGuard reset(s);
      sq::bind_text(s, 1, owner);
      sqlite3_bind_int64(s, 2, until);
      sqlite3_bind_int64(s, 3, room);
      while (step_row(s, "claim jobs")) out.taken_over.push_back(sq::column_text(s, 0));
      room -= static_cast<std::int64_t>(out.taken_over.size());
    }
    if (room > 0) {
      s = start_queued_.get();
      sq::bind_text(s, 1, owner);
      sqlite3_bind_int64(s, 2, until);
      sqlite3_bind_int64(s, 3, now_ms);
      sqlite3_bind_int64(s, 4, room);
      step_done(s, "claim jobs");
    }
    out.running = select_jobs(running_jobs_of_.get(), owner, "claim jobs");
    tx.commit();
    return out;
  }

  void release(std::string_view owner) override {
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = release_.get();
    sq::bind_text(s, 1, owner);
    step_done(s, "release leases");
  }

  bool shared() const override { return false; }

 private:
  /// Jobs a query bound to one owner selects (kJobColumns).
  std::vector<Job> select_jobs(sqlite3_stmt* s, std::string_view owner, const char* what) {
    ResetGuard reset(s);
    sq::bind_text(s, 1, owner);
    std::vector<Job> out;
    while (step_row(s, what)) out.push_back(read_job(s));
    return out;
  }

  /// A file made before leases (no owner column) gets the two lease columns.
  void add_lease_columns() {
    const sq::Stmt info = sq::prepare(db_.get(),
                                      "SELECT 1 FROM pragma_table_info('jobs')"
                                      " WHERE name = 'owner'");
    if (sqlite3_step(info.get()) == SQLITE_ROW) return;
    sq::exec(db_.get(),
             "ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';"
             "ALTER TABLE jobs ADD COLUMN lease_until_ms INTEGER NOT NULL DEFAULT 0;");
  }

  /// BEGIN … COMMIT, rolled back unless committed, so an exception leaves the store as it was.
  class Transaction {
   public:
    Transaction(SqliteBatchStore& store, const char* what, bool writes = true)
        : store_(store), what_(what) {
      // IMMEDIATE takes the write lock now rather than failing with SQLITE_BUSY half-way
      // should another process (an operator's sqlite3 shell) hold it.
      store_.exec(writes ? "BEGIN IMMEDIATE" : "BEGIN", what_);
    }
    ~Transaction() {
      if (!committed_) sqlite3_exec(store_.db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit() {
      store_.exec("COMMIT", what_);
      committed_ = true;
    }

   private:
    SqliteBatchStore& store_;
    const char* what_;
    bool committed_ = false;
  };

  void prepare_statements() {
    sqlite3* db = db_.get();
    // ON CONFLICT DO NOTHING covers both the id and the (partner, idempotency key) index.
    insert_job_ =
        sq::prepare(db,
                    "INSERT INTO jobs (id, partner_id, registry, operation, purpose, format,"
                    " procedure_code, idempotency_key, fingerprint, request_id,"
                    " template_request, state, total, done, matched, mismatched, not_found,"
                    " invalid, failed, created_ms, started_ms, finished_ms,"
                    " last_progress_ms, error, owner, lease_until_ms) VALUES (?1, ?2, ?3, ?4,"
                    " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0, 0, 0, 0, 0, 0, 0, ?13, ?14, ?15,"
                    " ?16, ?17, ?18, ?19)"
                    " ON CONFLICT DO NOTHING");
    find_job_ = sq::prepare(db, std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?1");
    // The repeated "<> ''" lets SQLite use the partial unique index.
    find_by_key_ = sq::prepare(db, std::string("SELECT ") + kJobColumns +
                                       " FROM jobs WHERE partner_id = ?1 AND"
                                       " idempotency_key = ?2 AND idempotency_key <> ''");
    insert_record_ = sq::prepare(db,
                                 "INSERT INTO records (job_id, line, request, result)"
                                 " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING");
    add_records_ = sq::prepare(db,
                               "UPDATE jobs SET total = total + ?2, done = done + ?3,"
                               " invalid = invalid + ?3 WHERE id = ?1");
    set_state_ = sq::prepare(
        db, std::string("UPDATE jobs SET state = ?2,"
                        " started_ms = CASE WHEN ?4 AND started_ms = 0 THEN ?3 ELSE started_ms"
                        " END, last_progress_ms = CASE WHEN ?4 AND last_progress_ms = 0 THEN ?3"
                        " ELSE last_progress_ms END,"
                        " finished_ms = CASE WHEN ?5 THEN ?3 ELSE finished_ms END,"
                        " error = CASE WHEN ?6 <> '' THEN ?6 ELSE error END"
                        " WHERE id = ?1 AND state NOT IN ") +
                kTerminal);
    delete_records_ = sq::prepare(db, "DELETE FROM records WHERE job_id = ?1");
    delete_job_ = sq::prepare(db, "DELETE FROM jobs WHERE id = ?1");
    jobs_in_state_ = sq::prepare(db, std::string("SELECT ") + kJobColumns +
                                         " FROM jobs WHERE state = ?1 ORDER BY created_ms, id");
    active_jobs_ = sq::prepare(db,
                               "SELECT count(*) FROM jobs WHERE partner_id = ?1 AND"
                               " state IN ('uploading', 'queued', 'running')");
    stored_records_ =
        sq::prepare(db, "SELECT coalesce(sum(total), 0) FROM jobs WHERE partner_id = ?1");
    prepare_result_statements();
    finished_before_ = sq::prepare(db, std::string("SELECT id FROM jobs WHERE state IN ") +
                                           kTerminal + " AND finished_ms > 0 AND finished_ms < ?1");
    count_by_state_ = sq::prepare(db, "SELECT state, count(*) FROM jobs GROUP BY state");
    prepare_claim_statements();
  }

  /// The statements of claim(): leases renewed, predecessors' uploads and jobs, queued jobs.
  void prepare_claim_statements() {
    sqlite3* db = db_.get();
    renew_ = sq::prepare(db,
                         "UPDATE jobs SET lease_until_ms = ?2 WHERE owner = ?1"
                         " AND state IN ('uploading', 'queued', 'running')");
    others_uploads_ = sq::prepare(db, std::string("SELECT ") + kJobColumns +
                                          " FROM jobs WHERE state = 'uploading' AND owner <> ?1");
    running_of_ =
        sq::prepare(db, "SELECT count(*) FROM jobs WHERE state = 'running' AND owner = ?1");
    take_over_ = sq::prepare(db,
                             "UPDATE jobs SET owner = ?1, lease_until_ms = ?2 WHERE id IN"
                             " (SELECT id FROM jobs WHERE state = 'running' AND owner <> ?1"
                             " ORDER BY created_ms, id LIMIT ?3) RETURNING id");
    // The stall clock starts when the job starts, not when it was queued.
    start_queued_ = sq::prepare(db,
                                "UPDATE jobs SET state = 'running', owner = ?1,"
                                " lease_until_ms = ?2, last_progress_ms = ?3, started_ms = CASE"
                                " WHEN started_ms = 0 THEN ?3 ELSE started_ms END WHERE id IN"
                                " (SELECT id FROM jobs WHERE state = 'queued'"
                                " ORDER BY created_ms, id LIMIT ?4)");
    release_ = sq::prepare(db, "UPDATE jobs SET lease_until_ms = 0 WHERE owner = ?1");
    running_jobs_of_ = sq::prepare(db, std::string("SELECT ") + kJobColumns +
                                           " FROM jobs WHERE state = 'running' AND owner = ?1"
                                           " ORDER BY created_ms, id");
  }

  /// The statements of dispatch and results (records to send, results recorded and read).
  void prepare_result_statements() {
    sqlite3* db = db_.get();
    pending_ = sq::prepare(db,
                           "SELECT line, request FROM records WHERE job_id = ?1 AND line > ?2"
                           " AND result IS NULL AND request IS NOT NULL ORDER BY line LIMIT ?3");
    is_open_ = sq::prepare(db,
                           "SELECT 1 FROM jobs WHERE id = ?1"
                           " AND state NOT IN ('completed', 'failed', 'cancelled')");
    set_result_ = sq::prepare(db,
                              "UPDATE records SET result = ?1 WHERE job_id = ?2 AND line = ?3"
                              " AND result IS NULL");
    add_results_ = sq::prepare(db,
                               "UPDATE jobs SET done = done + ?2, matched = matched + ?3,"
                               " mismatched = mismatched + ?4, not_found = not_found + ?5,"
                               " invalid = invalid + ?6, failed = failed + ?7,"
                               " last_progress_ms = ?8 WHERE id = ?1");
    results_ = sq::prepare(db,
                           "SELECT line, result FROM records WHERE job_id = ?1 AND line > ?2"
                           " ORDER BY line LIMIT ?3");
  }

  /// SQLite's message only: never a bound value, which may be personal data.
  [[noreturn]] void fail(const char* what) const { fail(what, sqlite3_errmsg(db_.get())); }
  [[noreturn]] void fail(const char* what, const std::string& why) const {
    throw std::runtime_error("batch store " + path_ + ": " + what + " failed: " + why);
  }

  void exec(const char* sql, const char* what) {
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(what);
  }

  void step_done(sqlite3_stmt* s, const char* what) {
    const int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
      const std::string why = sqlite3_errmsg(db_.get());  // before reset replaces it
      sqlite3_reset(s);
      fail(what, why);
    }
    sqlite3_reset(s);
  }

  /// Steps a query; throws on errors other than the end of rows.
  bool step_row(sqlite3_stmt* s, const char* what) {
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) fail(what);
    return false;
  }

  JobState state_of(const std::string& name) const {
    if (const auto state = job_state_from(name)) return *state;
    throw std::runtime_error("batch store " + path_ + ": unknown job state '" + name +
                             "' (edited by hand?)");
  }

  /// A row selected with kJobColumns.
  Job read_job(sqlite3_stmt* s) const {
    Job j;
    j.id = sq::column_text(s, 0);
    j.partner_id = sq::column_text(s, 1);
    j.registry = sq::column_text(s, 2);
    j.operation = sq::column_text(s, 3);
    j.purpose = sq::column_text(s, 4);
    j.procedure_code = sq::column_text(s, 5);
    j.format = sq::column_text(s, 6);
    j.idempotency_key = sq::column_text(s, 7);
    j.fingerprint = sq::column_text(s, 8);
    j.request_id = sq::column_text(s, 9);
    j.template_request = column_blob(s, 10);
    j.state = state_of(sq::column_text(s, 11));
    j.counts.total = sqlite3_column_int64(s, 12);
    j.counts.done = sqlite3_column_int64(s, 13);
    j.counts.matched = sqlite3_column_int64(s, 14);
    j.counts.mismatched = sqlite3_column_int64(s, 15);
    j.counts.not_found = sqlite3_column_int64(s, 16);
    j.counts.invalid = sqlite3_column_int64(s, 17);
    j.counts.failed = sqlite3_column_int64(s, 18);
    j.created_ms = sqlite3_column_int64(s, 19);
    j.started_ms = sqlite3_column_int64(s, 20);
    j.finished_ms = sqlite3_column_int64(s, 21);
    j.last_progress_ms = sqlite3_column_int64(s, 22);
    j.error = sq::column_text(s, 23);
    j.owner = sq::column_text(s, 24);
    j.lease_until_ms = sqlite3_column_int64(s, 25);
    return j;
  }

  /// Within the caller's transaction.
  void delete_job(std::string_view id) {
    sq::bind_text(delete_records_.get(), 1, id);
    step_done(delete_records_.get(), "discard");
    sq::bind_text(delete_job_.get(), 1, id);
    step_done(delete_job_.get(), "discard");
  }

  std::string path_;
  std::mutex mu_;  // guards db_ and every statement
  sq::Db db_;
  sq::Stmt insert_job_;
  sq::Stmt find_job_;
  sq::Stmt find_by_key_;
  sq::Stmt insert_record_;
  sq::Stmt add_records_;
  sq::Stmt set_state_;
  sq::Stmt delete_records_;
  sq::Stmt delete_job_;
  sq::Stmt jobs_in_state_;
  sq::Stmt stored_records_;
  sq::Stmt active_jobs_;
  sq::Stmt pending_;
  sq::Stmt is_open_;
  sq::Stmt set_result_;
  sq::Stmt add_results_;
  sq::Stmt results_;
  sq::Stmt finished_before_;
  sq::Stmt count_by_state_;
  sq::Stmt renew_;
  sq::Stmt others_uploads_;
  sq::Stmt running_of_;
  sq::Stmt take_over_;
  sq::Stmt start_queued_;
  sq::Stmt running_jobs_of_;
  sq::Stmt release_;
};

}  // namespace

std::unique_ptr<BatchStore> open_sqlite_batch_store(const std::string& path) {
  return std::make_unique<SqliteBatchStore>(path);
}

}  // namespace lgsp::batch
