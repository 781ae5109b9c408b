#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <utility>

#include "batch/store.hpp"
#include "util/hashing.hpp"
#include "util/pg_session.hpp"

namespace lgsp::batch {
namespace {

// Serialises schema creation across processes starting together (CREATE TABLE IF NOT EXISTS
// is not atomic in PostgreSQL), and, with a partner's hash as second key, the limit checks
// of create_job_within() (the two-key form, "lgsb" in ASCII as its first key). Arbitrary
// constant: "lgspbtch" in ASCII.
constexpr const char* kSchemaLock = "SELECT pg_advisory_xact_lock(7811339005222740840)";
constexpr int kPartnerLockClass = 0x6c677362;

// The tables are prefixed batch_: the database may be shared with the audit chain and the
// registries. batch_records is clustered by nothing in particular, but its primary key is the
// (job_id, line) order every range scan walks.
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS batch_jobs ("
    " id TEXT PRIMARY KEY, partner_id TEXT NOT NULL, registry TEXT NOT NULL,"
    " operation TEXT NOT NULL, purpose TEXT NOT NULL, procedure_code TEXT NOT NULL,"
    " format TEXT NOT NULL, idempotency_key TEXT NOT NULL, fingerprint TEXT NOT NULL,"
    " request_id TEXT NOT NULL, template_request BYTEA NOT NULL, state TEXT NOT NULL,"
    " total BIGINT NOT NULL, done BIGINT NOT NULL, matched BIGINT NOT NULL,"
    " mismatched BIGINT NOT NULL, not_found BIGINT NOT NULL, invalid BIGINT NOT NULL,"
    " failed BIGINT NOT NULL, created_ms BIGINT NOT NULL, started_ms BIGINT NOT NULL,"
    " finished_ms BIGINT NOT NULL, last_progress_ms BIGINT NOT NULL, error TEXT NOT NULL,"
    " owner TEXT NOT NULL, lease_until_ms BIGINT NOT NULL);"
    "CREATE UNIQUE INDEX IF NOT EXISTS batch_jobs_idempotency ON batch_jobs"
    " (partner_id, idempotency_key) WHERE idempotency_key <> '';"
    "CREATE INDEX IF NOT EXISTS batch_jobs_state ON batch_jobs (state, created_ms, id);"
    "CREATE INDEX IF NOT EXISTS batch_jobs_partner_state ON batch_jobs (partner_id, state);"
    "CREATE INDEX IF NOT EXISTS batch_jobs_owner ON batch_jobs (owner, state);"
    "CREATE TABLE IF NOT EXISTS batch_records ("
    " job_id TEXT COLLATE \"C\" NOT NULL, line BIGINT NOT NULL, request BYTEA, result TEXT,"
    " PRIMARY KEY (job_id, line));";

// The order read_job() expects.
constexpr const char* kJobColumns =
    "id, partner_id, registry, operation, purpose, procedure_code, format, idempotency_key,"
    " fingerprint, request_id, template_request, state, total, done, matched, mismatched,"
    " not_found, invalid, failed, created_ms, started_ms, finished_ms, last_progress_ms, error,"
    " owner, lease_until_ms";

constexpr const char* kUnfinished = "('uploading', 'queued', 'running')";

/// A PostgreSQL array literal of integers, for unnest($n::bigint[]).
std::string bigint_array(const std::vector<std::int64_t>& values) {
  std::string out = "{";
  for (const auto v : values) {
    if (out.size() > 1) out += ',';
    out += std::to_string(v);
  }
  return out + '}';
}

/// A PostgreSQL array literal of texts (nullopt: NULL), for unnest($n::text[]): every element
/// quoted, its quotes and backslashes escaped, so no value can change the array's shape.
std::string text_array(const std::vector<std::optional<std::string_view>>& values) {
  std::string out = "{";
  for (const auto& v : values) {
    if (out.size() > 1) out += ',';
    if (!v) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (const char c : *v) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + '}';
}

std::string hex_of(std::string_view bytes) {
  return util::to_hex(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

std::string bytes_of(const pqxx::field& f) {
  if (f.is_null()) return {};
  return pqxx::binarystring(f).str();
}

std::size_t outcome_index(Outcome o) { return static_cast<std::size_t>(o); }

constexpr const char* kStore = "batch store (PostgreSQL)";

/// The shared job store. One connection (a libpqxx connection is single-threaded) behind a
/// mutex, reopened on the next call when found broken; every call is one short transaction.
/// Records are written and results recorded with one statement per call over arrays
/// (unnest), not one round trip per record.
class PostgresBatchStore final : public BatchStore {
 public:
  /// Connects now (a wrong DSN fails at start, with libpq's reason) and creates the tables.
  explicit PostgresBatchStore(const std::string& dsn) : session_(dsn, kStore, prepare) {
    try {
      pqxx::connection conn(dsn);
      pqxx::work tx(conn);
      tx.exec(kSchemaLock);
      tx.exec(kSchema);
      tx.commit();
    } catch (const pqxx::failure& e) {
      throw util::PgSession::error(kStore, "open", e.what());
    }
    session_.connect();  // with the statements prepared on it
  }

  bool create_job(const Job& job) override {
    return session_.run("create job", [&](pqxx::work& tx) { return insert_job(tx, job); });
  }

  Creation create_job_within(const Job& job, std::int64_t max_active,
                             std::int64_t max_stored_records) override {
    return session_.run("create job", [&](pqxx::work& tx) {
      // Two submissions of one partner on two instances: the second waits for the first's
      // commit and counts its job.
      tx.exec_params("SELECT pg_advisory_xact_lock($1, hashtext($2))", kPartnerLockClass,
                     job.partner_id);
      if (count(tx, "batch_active_jobs", job.partner_id) >= max_active)
        return Creation::kTooManyActive;
      if (count(tx, "batch_stored_records", job.partner_id) >= max_stored_records)
        return Creation::kStorageFull;
      return insert_job(tx, job) ? Creation::kCreated : Creation::kExists;
    });
  }

  std::int64_t stored_records(std::string_view partner_id) override {
    return session_.run("count stored records", [&](pqxx::work& tx) {
      return count(tx, "batch_stored_records", partner_id);
    });
  }

  std::optional<Job> find_job(std::string_view id) override {
    return session_.run("find job", [&](pqxx::work& tx) -> std::optional<Job> {
      const auto rows = tx.exec_prepared("batch_find_job", std::string(id));
      if (rows.empty()) return std::nullopt;
      return read_job(rows[0]);
    });
  }

  std::optional<Job> find_by_idempotency_key(std::string_view partner_id,
                                             std::string_view key) override {
    if (key.empty()) return std::nullopt;  // "" means no key: never a match
    return session_.run("find job by idempotency key", [&](pqxx::work& tx) -> std::optional<Job> {
      const auto rows =
          tx.exec_prepared("batch_find_by_key", std::string(partner_id), std::string(key));
      if (rows.empty()) return std::nullopt;
      return read_job(rows[0]);
    });
  }

  void append(std::string_view job_id, const std::vector<NewRecord>& records) override {
    std::vector<std::int64_t> lines;
    std::vector<std::string> hex;  // owns the requests' hex text the views below point at
    std::vector<std::optional<std::string_view>> requests;
    std::vector<std::optional<std::string_view>> results;
    lines.reserve(records.size());
    hex.reserve(records.size());
    for (const auto& r : records) {
      if (r.request.empty() && r.result.empty()) {
        // It could never be dispatched nor answered: the job would never complete.
        throw std::invalid_argument("batch store (PostgreSQL): append: record " +
                                    std::to_string(r.line) + " has neither request nor result");
      }
      lines.push_back(r.line);
      hex.push_back(hex_of(r.request));
    }
    requests.reserve(records.size());
    results.reserve(records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
      requests.push_back(records[i].request.empty() ? std::nullopt
                                                    : std::optional<std::string_view>(hex[i]));
      results.push_back(records[i].result.empty()
                            ? std::nullopt
                            : std::optional<std::string_view>(records[i].result));
    }
    session_.run("append", [&](pqxx::work& tx) {
      // A line already stored keeps what it has and is not counted twice.
      const auto added = tx.exec_prepared("batch_append", std::string(job_id), bigint_array(lines),
                                          text_array(requests), text_array(results));
      std::int64_t invalid = 0;
      for (const auto& row : added) invalid += row[0].as<bool>() ? 1 : 0;
      const auto updated = tx.exec_prepared("batch_add_records", std::string(job_id),
                                            static_cast<std::int64_t>(added.size()), invalid);
      if (updated.affected_rows() != 1)
        throw util::PgSession::error(kStore, "append", "no job " + std::string(job_id));
    });
  }

  bool set_state(std::string_view job_id, JobState state, std::int64_t now_ms,
                 std::string_view error) override {
    return session_.run("set state", [&](pqxx::work& tx) {
      return tx.exec_prepared("batch_set_state", std::string(job_id), std::string(to_string(state)),
                              now_ms, state == JobState::kRunning, is_terminal(state),
                              std::string(error))
                 .affected_rows() == 1;
    });
  }

  void discard(std::string_view job_id) override {
    session_.run("discard", [&](pqxx::work& tx) { delete_job(tx, job_id); });
  }

  std::vector<Job> jobs_in(const std::vector<JobState>& states) override {
    std::vector<std::optional<std::string_view>> names;
    names.reserve(states.size());
    for (const auto s : states) names.emplace_back(to_string(s));
    return session_.run("list jobs", [&](pqxx::work& tx) {
      return read_jobs(tx.exec_prepared("batch_jobs_in", text_array(names)));
    });
  }

  std::int64_t active_jobs(std::string_view partner_id) override {
    return session_.run("count active jobs",
                        [&](pqxx::work& tx) { return count(tx, "batch_active_jobs", partner_id); });
  }

  std::vector<PendingRecord> pending(std::string_view job_id, std::int64_t after_line,
                                     std::size_t limit) override {
    std::vector<PendingRecord> out;
    if (limit == 0) return out;
    return session_.run("list pending records", [&](pqxx::work& tx) {
      const auto rows =
          tx.exec_prepared("batch_pending", std::string(job_id), after_line, clamp(limit));
      out.reserve(rows.size());
      for (const auto& row : rows) out.push_back({row[0].as<std::int64_t>(), bytes_of(row[1])});
      return out;
    });
  }

  std::int64_t record_results(std::string_view job_id, const std::vector<RecordResult>& results,
                              std::int64_t now_ms) override {
    std::vector<std::int64_t> lines;
    std::vector<std::optional<std::string_view>> texts;
    std::map<std::int64_t, Outcome> outcome_of;
    lines.reserve(results.size());
    texts.reserve(results.size());
    for (const auto& r : results) {
      lines.push_back(r.line);
      texts.emplace_back(r.result);
      outcome_of.emplace(r.line, r.outcome);
    }
    return session_.run("record results", [&](pqxx::work& tx) -> std::int64_t {
      // The job's row locked: a cancellation commits before or after, never in between, so
      // a finished job takes none (its owner was told what it holds).
      if (tx.exec_prepared("batch_lock_open_job", std::string(job_id)).empty()) return 0;
      const auto set = tx.exec_prepared("batch_set_results", std::string(job_id),
                                        bigint_array(lines), text_array(texts));
      std::array<std::int64_t, 5> added{};  // by Outcome
      for (const auto& row : set) {
        ++added.at(outcome_index(outcome_of.at(row[0].as<std::int64_t>())));
      }
      const auto total = static_cast<std::int64_t>(set.size());
      if (total > 0) {
        tx.exec_prepared(
            "batch_add_results", std::string(job_id), total,
            added[outcome_index(Outcome::kMatched)], added[outcome_index(Outcome::kMismatched)],
            added[outcome_index(Outcome::kNotFound)], added[outcome_index(Outcome::kInvalid)],
            added[outcome_index(Outcome::kFailed)], now_ms);
      }
      return total;
    });
  }

  std::vector<ResultRow> results(std::string_view job_id, std::int64_t after_line,
                                 std::size_t limit) override {
    std::vector<ResultRow> out;
    if (limit == 0) return out;
    return session_.run("list results", [&](pqxx::work& tx) {
      const auto rows =
          tx.exec_prepared("batch_results", std::string(job_id), after_line, clamp(limit));
      out.reserve(rows.size());
      for (const auto& row : rows) {
        ResultRow r{row[0].as<std::int64_t>(), std::nullopt};
        if (!row[1].is_null()) r.result = row[1].c_str();
        out.push_back(std::move(r));
      }
      return out;
    });
  }

  std::int64_t purge_finished(std::int64_t before_ms) override {
    return session_.run("purge finished jobs", [&](pqxx::work& tx) {
      const auto ids = tx.exec_prepared("batch_finished_before", before_ms);
      for (const auto& row : ids) delete_job(tx, row[0].c_str());
      return static_cast<std::int64_t>(ids.size());
    });
  }

  std::vector<std::pair<JobState, std::int64_t>> count_by_state() override {
    return session_.run("count jobs by state", [&](pqxx::work& tx) {
      std::vector<std::pair<JobState, std::int64_t>> out;
      for (const auto& row : tx.exec_prepared("batch_count_by_state")) {
        out.emplace_back(state_of(row[0].c_str()), row[1].as<std::int64_t>());
      }
      return out;
    });
  }

  Claim claim(std::string_view owner, std::int64_t now_ms, std::int64_t lease_ms,
              std::size_t max_running) override {
    const std::string me(owner);
    const std::int64_t until = now_ms + lease_ms;
    return session_.run("claim jobs", [&](pqxx::work& tx) {
      Claim out;
      tx.exec_prepared("batch_renew", me, until);
      // SKIP LOCKED everywhere: two instances claiming at once each take other jobs instead
      // of waiting for, or both taking, the same ones.
      out.discarded = read_jobs(tx.exec_prepared("batch_stale_uploads", me, now_ms));
      for (const auto& job : out.discarded) delete_job(tx, job.id);
      std::int64_t room = clamp(max_running) - count(tx, "batch_running_of", std::string_view(me));
      if (room > 0) {
        for (const auto& row : tx.exec_prepared("batch_take_over", me, until, now_ms, room)) {
          out.taken_over.emplace_back(row[0].c_str());
        }
        room -= static_cast<std::int64_t>(out.taken_over.size());
      }
      if (room > 0) tx.exec_prepared("batch_start_queued", me, until, now_ms, room);
      out.running = read_jobs(tx.exec_prepared("batch_running_jobs_of", me));
      return out;
    });
  }

  void release(std::string_view owner) override {
    session_.run("release leases",
                 [&](pqxx::work& tx) { tx.exec_prepared("batch_release", std::string(owner)); });
  }

  bool shared() const override { return true; }

 private:
  static std::int64_t clamp(std::size_t n) {
    constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
    return static_cast<std::int64_t>(std::min(n, kMax));
  }

  static std::int64_t count(pqxx::work& tx, const char* statement, std::string_view key) {
    return tx.exec_prepared(statement, std::string(key))[0][0].as<std::int64_t>();
  }

  static bool insert_job(pqxx::work& tx, const Job& job) {
    // ON CONFLICT DO NOTHING covers both the id and the (partner, idempotency key) index.
    return tx.exec_prepared("batch_insert_job", job.id, job.partner_id, job.registry, job.operation,
                            job.purpose, job.format, job.procedure_code, job.idempotency_key,
                            job.fingerprint, job.request_id,
                            pqxx::binarystring(job.template_request), job.created_ms,
                            job.started_ms, job.finished_ms, job.last_progress_ms, job.error,
                            job.owner, job.lease_until_ms)
               .affected_rows() == 1;
  }

  static void delete_job(pqxx::work& tx, std::string_view id) {
    tx.exec_prepared("batch_delete_records", std::string(id));
    tx.exec_prepared("batch_delete_job", std::string(id));
  }

  static JobState state_of(const std::string& name) {
    if (const auto state = job_state_from(name)) return *state;
    throw std::runtime_error("batch store (PostgreSQL): unknown job state '" + name +
                             "' (edited by hand?)");
  }

  static std::vector<Job> read_jobs(const pqxx::result& rows) {
    std::vector<Job> out;
    out.reserve(rows.size());
    for (const auto& row : rows) out.push_back(read_job(row));
    return out;
  }

  /// A row selected with kJobColumns.
  static Job read_job(const pqxx::row& row) {
    Job j;
    std::array<std::string*, 10> text{
        &j.id,     &j.partner_id,      &j.registry,    &j.operation, &j.purpose, &j.procedure_code,
        &j.format, &j.idempotency_key, &j.fingerprint, &j.request_id};
    for (std::size_t i = 0; i < text.size(); ++i) *text[i] = row[static_cast<int>(i)].c_str();
    j.template_request = bytes_of(row[10]);
    j.state = state_of(row[11].c_str());
    std::array<std::int64_t*, 11> numbers{
        &j.counts.total,     &j.counts.done,    &j.counts.matched,  &j.counts.mismatched,
        &j.counts.not_found, &j.counts.invalid, &j.counts.failed,   &j.created_ms,
        &j.started_ms,       &j.finished_ms,    &j.last_progress_ms};
    for (std::size_t i = 0; i < numbers.size(); ++i) {
      *numbers[i] = row[static_cast<int>(i) + 12].as<std::int64_t>();
    }
    j.error = row[23].c_str();
    j.owner = row[24].c_str();
    j.lease_until_ms = row[25].as<std::int64_t>();
    return j;
  }

  static void prepare(pqxx::connection& c) {
    const std::string select_jobs = std::string("SELECT ") + kJobColumns + " FROM batch_jobs";
    c.prepare("batch_insert_job",
              "INSERT INTO batch_jobs (id, partner_id, registry, operation, purpose, format,"
              " procedure_code, idempotency_key, fingerprint, request_id, template_request,"
              " state, total, done, matched, mismatched, not_found, invalid, failed, created_ms,"
              " started_ms, finished_ms, last_progress_ms, error, owner, lease_until_ms)"
              " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'uploading', 0, 0, 0, 0,"
              " 0, 0, 0, $12, $13, $14, $15, $16, $17, $18) ON CONFLICT DO NOTHING");
    c.prepare("batch_find_job", select_jobs + " WHERE id = $1");
    c.prepare("batch_find_by_key", select_jobs +
                                       " WHERE partner_id = $1 AND idempotency_key = $2"
                                       " AND idempotency_key <> ''");
    c.prepare("batch_active_jobs",
              std::string("SELECT count(*) FROM batch_jobs WHERE partner_id = $1 AND state IN ") +
                  kUnfinished);
    c.prepare("batch_stored_records",
              "SELECT coalesce(sum(total), 0)::bigint FROM batch_jobs WHERE partner_id = $1");
    c.prepare("batch_append",
              "INSERT INTO batch_records (job_id, line, request, result)"
              " SELECT $1, u.line, decode(u.request, 'hex'), u.result"
              " FROM unnest($2::bigint[], $3::text[], $4::text[]) AS u(line, request, result)"
              " ON CONFLICT DO NOTHING RETURNING result IS NOT NULL");
    c.prepare("batch_add_records",
              "UPDATE batch_jobs SET total = total + $2, done = done + $3,"
              " invalid = invalid + $3 WHERE id = $1");
    c.prepare("batch_set_state",
              std::string("UPDATE batch_jobs SET state = $2,"
                          " started_ms = CASE WHEN $4 AND started_ms = 0 THEN $3 ELSE started_ms"
                          " END, last_progress_ms = CASE WHEN $4 AND last_progress_ms = 0 THEN"
                          " $3 ELSE last_progress_ms END,"
                          " finished_ms = CASE WHEN $5 THEN $3 ELSE finished_ms END,"
                          " error = CASE WHEN $6 <> '' THEN $6 ELSE error END"
                          " WHERE id = $1 AND state IN ") +
                  kUnfinished);
    c.prepare("batch_delete_records", "DELETE FROM batch_records WHERE job_id = $1");
    c.prepare("batch_delete_job", "DELETE FROM batch_jobs WHERE id = $1");
    c.prepare("batch_jobs_in",
              select_jobs + " WHERE state = ANY($1::text[]) ORDER BY created_ms, id");

    c.prepare("batch_finished_before",
              std::string("SELECT id FROM batch_jobs WHERE state NOT IN ") + kUnfinished +
                  " AND finished_ms > 0 AND finished_ms < $1");
    c.prepare("batch_count_by_state", "SELECT state, count(*) FROM batch_jobs GROUP BY state");
    prepare_records(c);
    prepare_claim(c, select_jobs);
  }

  /// The statements of dispatch and results (records to send, results recorded and read).
  static void prepare_records(pqxx::connection& c) {
    c.prepare("batch_pending",
              "SELECT line, request FROM batch_records WHERE job_id = $1 AND line > $2"
              " AND result IS NULL AND request IS NOT NULL ORDER BY line LIMIT $3");
    c.prepare("batch_lock_open_job", std::string("SELECT 1 FROM batch_jobs WHERE id = $1 AND"
                                                 " state IN ") +
                                         kUnfinished + " FOR UPDATE");
    c.prepare("batch_set_results",
              "UPDATE batch_records r SET result = u.result"
              " FROM unnest($2::bigint[], $3::text[]) AS u(line, result)"
              " WHERE r.job_id = $1 AND r.line = u.line AND r.result IS NULL RETURNING r.line");
    c.prepare("batch_add_results",
              "UPDATE batch_jobs SET done = done + $2, matched = matched + $3,"
              " mismatched = mismatched + $4, not_found = not_found + $5,"
              " invalid = invalid + $6, failed = failed + $7, last_progress_ms = $8"
              " WHERE id = $1");
    c.prepare("batch_results",
              "SELECT line, result FROM batch_records WHERE job_id = $1 AND line > $2"
              " ORDER BY line LIMIT $3");
  }

  /// The statements of claim(): leases renewed, expired uploads and jobs, queued jobs.
  static void prepare_claim(pqxx::connection& c, const std::string& select_jobs) {
    c.prepare("batch_renew", std::string("UPDATE batch_jobs SET lease_until_ms = $2"
                                         " WHERE owner = $1 AND state IN ") +
                                 kUnfinished);
    c.prepare("batch_stale_uploads", select_jobs +
                                         " WHERE state = 'uploading' AND owner <> $1"
                                         " AND lease_until_ms < $2 FOR UPDATE SKIP LOCKED");
    c.prepare("batch_running_of",
              "SELECT count(*) FROM batch_jobs WHERE state = 'running' AND owner = $1");
    c.prepare("batch_take_over",
              "UPDATE batch_jobs SET owner = $1, lease_until_ms = $2 WHERE id IN"
              " (SELECT id FROM batch_jobs WHERE state = 'running' AND owner <> $1"
              " AND lease_until_ms < $3 ORDER BY created_ms, id LIMIT $4 FOR UPDATE SKIP LOCKED)"
              " RETURNING id");
    // The stall clock starts when the job starts, not when it was queued.
    c.prepare("batch_start_queued",
              "UPDATE batch_jobs SET state = 'running', owner = $1, lease_until_ms = $2,"
              " last_progress_ms = $3,"
              " started_ms = CASE WHEN started_ms = 0 THEN $3 ELSE started_ms END WHERE id IN"
              " (SELECT id FROM batch_jobs WHERE state = 'queued' ORDER BY created_ms, id"
              " LIMIT $4 FOR UPDATE SKIP LOCKED)");
    c.prepare("batch_release", "UPDATE batch_jobs SET lease_until_ms = 0 WHERE owner = $1");
    c.prepare("batch_running_jobs_of", select_jobs +
                                           " WHERE state = 'running' AND owner = $1"
                                           " ORDER BY created_ms, id");
  }

  util::PgSession session_;
};

}  // namespace

std::unique_ptr<BatchStore> open_postgres_batch_store(const std::string& dsn) {
  return std::make_unique<PostgresBatchStore>(dsn);
}

}  // namespace lgsp::batch
