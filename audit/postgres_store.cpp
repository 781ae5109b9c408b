#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>

#include "audit/chain.hpp"
#include "audit/columns.hpp"
#include "audit/store.hpp"
#include "util/clock.hpp"

namespace lgsp::audit {
namespace {

// Transaction-scoped advisory lock serialising appenders (and schema creation) on the chain
// head across every process sharing the database. Arbitrary constant: "lgspaudt" in ASCII.
constexpr const char* kChainLock = "SELECT pg_advisory_xact_lock(7811882452498916468)";

// audit_subject.subject_hash uses the "C" collation so the primary key, the (subject_hash,
// seq) index the access-log query walks, orders bytewise like SQLite and the verifier.
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS audit_log ("
    " seq BIGINT PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, time_unix_ms BIGINT NOT NULL,"
    " request_id TEXT NOT NULL, partner_id TEXT NOT NULL, operation TEXT NOT NULL,"
    " subject_hashes TEXT NOT NULL, purpose TEXT NOT NULL, on_behalf_of TEXT NOT NULL,"
    " procedure_code TEXT NOT NULL, fields_released TEXT NOT NULL, outcome TEXT NOT NULL,"
    " http_status INTEGER NOT NULL, latency_us BIGINT NOT NULL, prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL, batch_id TEXT NOT NULL DEFAULT '',"
    " subject_count BIGINT NOT NULL DEFAULT 0, source TEXT NOT NULL DEFAULT '',"
    " source_seq BIGINT NOT NULL DEFAULT 0, withheld_until_ms BIGINT NOT NULL DEFAULT 0,"
    " withholding_ref TEXT NOT NULL DEFAULT '', consent_id TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE IF NOT EXISTS audit_subject ("
    " subject_hash TEXT COLLATE \"C\" NOT NULL, seq BIGINT NOT NULL,"
    " PRIMARY KEY (subject_hash, seq));"
    "CREATE TABLE IF NOT EXISTS audit_conflict ("
    " id BIGSERIAL PRIMARY KEY, detected_unix_ms BIGINT NOT NULL, event_id TEXT NOT NULL,"
    " event TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit_signed_head ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, hash TEXT NOT NULL,"
    " signed_unix_ms BIGINT NOT NULL, key_id TEXT NOT NULL, signature TEXT NOT NULL);";

constexpr const char* kSelectSignedHead =
    "SELECT seq, hash, signed_unix_ms, key_id, signature FROM audit_signed_head WHERE id = 1";

std::optional<SignedHead> signed_head_of(const pqxx::result& rows) {
  if (rows.empty()) return std::nullopt;
  const pqxx::row& row = rows[0];
  return SignedHead{row[0].as<std::int64_t>(), row[1].c_str(), row[2].as<std::int64_t>(),
                    row[3].c_str(), row[4].c_str()};
}

// The columns a table created by an earlier release lacks, and how many there are. Looked up
// through the same search_path resolution as the unqualified name in every other statement.
constexpr const char* kCountAddedColumns =
    "SELECT count(*) FROM pg_attribute WHERE attrelid = 'audit_log'::regclass"
    " AND attname IN ('batch_id', 'subject_count', 'source', 'source_seq', 'withheld_until_ms',"
    " 'withholding_ref', 'consent_id') AND NOT attisdropped";
constexpr std::int64_t kAddedColumns = 7;
// With a constant default (PostgreSQL 11 and later) this changes only the catalog: no table
// rewrite, and older rows read back "" and 0, the values their hashes were computed with.
constexpr const char* kAddColumns =
    "ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS batch_id TEXT NOT NULL DEFAULT '',"
    " ADD COLUMN IF NOT EXISTS subject_count BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS source TEXT NOT NULL DEFAULT '',"
    " ADD COLUMN IF NOT EXISTS source_seq BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS withheld_until_ms BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS withholding_ref TEXT NOT NULL DEFAULT '',"
    " ADD COLUMN IF NOT EXISTS consent_id TEXT NOT NULL DEFAULT ''";
// ALTER TABLE waits for an exclusive lock on audit_log, and every other query on the table
// queues behind it; a long verify (one snapshot for the whole walk) would stall the access
// log that long. Give up instead and say so.
constexpr const char* kMigrationLockTimeout = "SET LOCAL lock_timeout = '10s'";

constexpr int kFetchRows = 1000;

std::string text(const pqxx::row& row, int i) {
  return row[i].is_null() ? std::string{} : row[i].c_str();
}

/// A row selected with kLogColumns, exactly as stored.
AuditRecord read_record(const pqxx::row& row) {
  AuditRecord r;
  r.seq = row[0].as<std::int64_t>();
  r.event_id = text(row, 1);
  r.time_unix_ms = row[2].as<std::int64_t>();
  r.request_id = text(row, 3);
  r.partner_id = text(row, 4);
  r.operation = text(row, 5);
  r.subject_hashes = decode_list(r.seq, "subject_hashes", text(row, 6));
  r.purpose = text(row, 7);
  r.on_behalf_of = text(row, 8);
  r.procedure_code = text(row, 9);
  r.fields_released = decode_list(r.seq, "fields_released", text(row, 10));
  r.outcome = text(row, 11);
  r.http_status = checked_status(r.seq, row[12].as<std::int64_t>());
  r.latency_us = row[13].as<std::int64_t>();
  r.prev_hash = text(row, 14);
  r.hash = text(row, 15);
  r.batch_id = text(row, 16);
  r.subject_count = row[17].as<std::int64_t>();
  r.source = text(row, 18);
  r.source_seq = row[19].as<std::int64_t>();
  r.withheld_until_ms = row[20].as<std::int64_t>();
  r.withholding_ref = text(row, 21);
  r.consent_id = text(row, 22);
  return r;
}

/// Runs `query` through a server-side cursor in a read-only snapshot, handing each fetched
/// row to `visit`, so a table of any size streams in kFetchRows steps.
void stream(const std::string& dsn, const std::string& query,
            const std::function<void(const pqxx::row&)>& visit) {
  pqxx::connection conn(dsn);
  pqxx::work tx(conn);
  // One snapshot for the whole walk, as a single SQLite statement gets.
  tx.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  tx.exec("DECLARE audit_scan NO SCROLL CURSOR FOR " + query);
  const std::string fetch = "FETCH FORWARD " + std::to_string(kFetchRows) + " FROM audit_scan";
  for (;;) {
    const pqxx::result batch = tx.exec(fetch);
    for (const auto& row : batch) visit(row);
    if (batch.size() < static_cast<pqxx::result::size_type>(kFetchRows)) break;
  }
  tx.commit();
}

/// The audit chain in PostgreSQL. Appends and lookups use one connection each (guarded by
/// their own mutex, as a libpqxx connection is single-threaded); scans open their own so a
/// long verify blocks neither. A connection found broken is reopened on the next call.
class PostgresAuditStore final : public AuditStore {
 public:
  PostgresAuditStore(std::string dsn, Access access)
      : dsn_(std::move(dsn)), read_only_(access == Access::kReadOnly) {
    if (read_only_) {
      // No DDL, no writes: the role may be SELECT-only. Connects now to fail fast.
      std::lock_guard lock(read_mu_);
      reader();
      return;
    }
    // Fails fast with libpq's reason on a wrong DSN; the lock stops two starting processes
    // from racing on CREATE TABLE IF NOT EXISTS (which is not atomic in PostgreSQL).
    {
      pqxx::connection conn(dsn_);
      pqxx::work tx(conn);
      tx.exec(kChainLock);
      tx.exec(kSchema);
      // Only when columns are missing: ALTER TABLE takes its exclusive lock even when every
      // IF NOT EXISTS holds, which would make each start wait for running scans.
      if (tx.exec(kCountAddedColumns)[0][0].as<std::int64_t>() != kAddedColumns) {
        add_columns(tx);
      }
      tx.commit();
    }
    // Prepared only now: libpqxx 7 prepares eagerly, which needs the tables.
    std::scoped_lock lock(write_mu_, read_mu_);
    writer();
    reader();
  }

  void sign_heads_with(HeadSigner signer) override {
    std::lock_guard lock(write_mu_);
    signer_ = std::move(signer);
  }

  std::optional<SignedHead> signed_head() override {
    std::lock_guard lock(read_mu_);
    try {
      pqxx::nontransaction tx(reader());
      // A database written by a release before signing has no such table.
      if (tx.exec("SELECT to_regclass('audit_signed_head') IS NULL")[0][0].as<bool>())
        return std::nullopt;
      return signed_head_of(tx.exec(kSelectSignedHead));
    } catch (const pqxx::broken_connection&) {
      read_.reset();
      throw;
    }
  }

  Appended append(std::vector<AuditRecord> records) override {
    std::lock_guard lock(write_mu_);
    if (read_only_) throw std::logic_error("PostgreSQL audit store is open read-only");
    try {
      pqxx::work tx(writer());
      tx.exec(kChainLock);  // held until commit: nobody else extends the chain meanwhile
      std::int64_t head_seq = 0;
      std::string head_hash;
      if (const pqxx::result head = tx.exec_prepared("audit_head"); !head.empty()) {
        head_seq = head[0][0].as<std::int64_t>();
        head_hash = text(head[0], 1);
      }
      // Sign only on top of the head last signed: anything else was written by someone
      // without the key, and signing on top would vouch for it.
      const auto last_signed = signed_head_of(tx.exec_prepared("audit_signed_head"));
      const bool may_sign =
          !last_signed || (last_signed->seq == head_seq && last_signed->hash == head_hash);
      Appended result;
      for (auto& r : records) {
        r.seq = head_seq + 1;
        r.prev_hash = head_hash;
        r.hash = chain_hash(r);
        const pqxx::result inserted = tx.exec_prepared(
            "audit_insert", r.seq, r.event_id, r.time_unix_ms, r.request_id, r.partner_id,
            r.operation, encode_list(r.subject_hashes), r.purpose, r.on_behalf_of, r.procedure_code,
            encode_list(r.fields_released), r.outcome, r.http_status, r.latency_us, r.prev_hash,
            r.hash, r.batch_id, r.subject_count, r.source, r.source_seq, r.withheld_until_ms,
            r.withholding_ref, r.consent_id);
        if (inserted.affected_rows() == 0) {
          // The id is stored: a redelivery, or a different event under the same id.
          if (redelivered(tx, r)) {
            ++result.duplicates;
          } else {
            ++result.conflicts;
          }
          continue;
        }
        for (const auto& subject : r.subject_hashes) {
          tx.exec_prepared("audit_insert_subject", subject, r.seq);
        }
        head_seq = r.seq;
        head_hash = r.hash;
        ++result.appended;
      }
      if (signer_ && result.appended > 0) {
        if (may_sign) {
          const SignedHead h = signer_(head_seq, head_hash);
          tx.exec_prepared("audit_upsert_signed_head", h.seq, h.hash, h.signed_unix_ms, h.key_id,
                           h.signature);
        } else {
          result.left_unsigned = true;
        }
      }
      tx.commit();
      return result;
    } catch (const pqxx::broken_connection&) {
      write_.reset();
      throw;
    }
  }

  std::vector<AuditRecord> by_subject(const std::string& subject_hash, std::int64_t before_seq,
                                      std::size_t limit) override {
    std::vector<AuditRecord> out;
    if (limit == 0) return out;
    std::lock_guard lock(read_mu_);
    try {
      pqxx::nontransaction tx(reader());
      const pqxx::result rows = tx.exec_prepared(
          "audit_by_subject", subject_hash,
          before_seq > 0 ? before_seq : std::numeric_limits<std::int64_t>::max(),
          static_cast<std::int64_t>(std::min<std::size_t>(
              limit, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()))));
      out.reserve(rows.size());
      for (const auto& row : rows) out.push_back(read_record(row));
      return out;
    } catch (const pqxx::broken_connection&) {
      read_.reset();
      throw;
    }
  }

  void scan(const std::function<void(const AuditRecord&)>& visit) override {
    stream(dsn_, std::string("SELECT ") + kLogColumns + " FROM audit_log ORDER BY seq",
           [&](const pqxx::row& row) { visit(read_record(row)); });
  }

  std::int64_t count() override {
    std::lock_guard lock(read_mu_);
    try {
      pqxx::nontransaction tx(reader());
      return tx.exec_prepared("audit_count")[0][0].as<std::int64_t>();
    } catch (const pqxx::broken_connection&) {
      read_.reset();
      throw;
    }
  }

  std::int64_t conflicts() override {
    std::lock_guard lock(read_mu_);
    try {
      pqxx::nontransaction tx(reader());
      return tx.exec_prepared("audit_count_conflicts")[0][0].as<std::int64_t>();
    } catch (const pqxx::broken_connection&) {
      read_.reset();
      throw;
    }
  }

  bool scan_subject_index(
      const std::function<void(std::int64_t, const std::string&)>& visit) override {
    stream(dsn_, "SELECT seq, subject_hash FROM audit_subject ORDER BY seq, subject_hash",
           [&](const pqxx::row& row) { visit(row[0].as<std::int64_t>(), text(row, 1)); });
    return true;
  }

 private:
  /// `r`'s id is stored: true when with the same content (a redelivery); otherwise keeps `r`
  /// in audit_conflict and returns false.
  static bool redelivered(pqxx::work& tx, const AuditRecord& r) {
    const pqxx::result stored = tx.exec_prepared("audit_find_event", r.event_id);
    if (!stored.empty() && same_event(read_record(stored[0]), r)) return true;
    tx.exec_prepared("audit_insert_conflict", util::unix_ms_now(), r.event_id, describe_event(r));
    return false;
  }

  static void add_columns(pqxx::work& tx) {
    tx.exec(kMigrationLockTimeout);
    try {
      tx.exec(kAddColumns);
    } catch (const pqxx::sql_error& e) {
      throw std::runtime_error(
          std::string("PostgreSQL audit store: audit_log was created by an earlier release and "
                      "lacks columns (batch_id, subject_count, source, source_seq, "
                      "withheld_until_ms, withholding_ref, consent_id); adding them failed: ") +
          e.what() +
          (e.sqlstate() == "55P03"
               ? " Hint: another session holds audit_log (a running `lgsp audit verify`?); "
                 "start again when it has finished."
               : " Hint: the first start after the upgrade needs a role that may ALTER "
                 "audit_log (its owner); older records keep verifying."));
    }
  }

  pqxx::connection& writer() {
    if (!write_) {
      auto conn = std::make_unique<pqxx::connection>(dsn_);
      conn->prepare("audit_head", "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
      conn->prepare("audit_insert",
                    std::string("INSERT INTO audit_log (") + kLogColumns +
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
                        " $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)"
                        " ON CONFLICT (event_id) DO NOTHING");
      conn->prepare("audit_find_event",
                    std::string("SELECT ") + kLogColumns + " FROM audit_log WHERE event_id = $1");
      conn->prepare("audit_insert_conflict",
                    "INSERT INTO audit_conflict (detected_unix_ms, event_id, event)"
                    " VALUES ($1, $2, $3)");
      conn->prepare("audit_insert_subject",
                    "INSERT INTO audit_subject (subject_hash, seq) VALUES ($1, $2)"
                    " ON CONFLICT DO NOTHING");
      conn->prepare("audit_signed_head", kSelectSignedHead);
      conn->prepare("audit_upsert_signed_head",
                    "INSERT INTO audit_signed_head (id, seq, hash, signed_unix_ms, key_id,"
                    " signature) VALUES (1, $1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET"
                    " seq = excluded.seq, hash = excluded.hash,"
                    " signed_unix_ms = excluded.signed_unix_ms, key_id = excluded.key_id,"
                    " signature = excluded.signature");
      write_ = std::move(conn);
    }
    return *write_;
  }

  pqxx::connection& reader() {
    if (!read_) {
      auto conn = std::make_unique<pqxx::connection>(dsn_);
      // Defence in depth for the gateways: even a role that may write cannot through them.
      if (read_only_) {
        conn->set_variable("default_transaction_read_only", "on");
        // The gateways' queries (the access log) never hold a connection for long.
        conn->set_variable("statement_timeout", "5000");
      }
      std::string columns = "l.";
      for (const char* p = kLogColumns; *p != '\0'; ++p) {
        columns += *p;
        if (*p == ' ') columns += "l.";
      }
      conn->prepare("audit_by_subject", "SELECT " + columns +
                                            " FROM audit_subject s JOIN audit_log l ON"
                                            " l.seq = s.seq WHERE s.subject_hash = $1 AND"
                                            " s.seq < $2"
                                            " ORDER BY s.seq DESC LIMIT $3");
      conn->prepare("audit_count", "SELECT count(*) FROM audit_log");
      conn->prepare("audit_count_conflicts", "SELECT count(*) FROM audit_conflict");
      read_ = std::move(conn);
    }
    return *read_;
  }

  std::string dsn_;
  bool read_only_;
  std::mutex write_mu_;
  HeadSigner signer_;
  std::unique_ptr<pqxx::connection> write_;
  std::mutex read_mu_;
  std::unique_ptr<pqxx::connection> read_;
};

}  // namespace

std::unique_ptr<AuditStore> open_postgres_audit_store(const std::string& dsn, Access access) {
  return std::make_unique<PostgresAuditStore>(dsn, access);
}

}  // namespace lgsp::audit
