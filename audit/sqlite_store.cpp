#include <sqlite3.h>

#include <limits>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "audit/chain.hpp"
#include "audit/columns.hpp"
#include "audit/store.hpp"
#include "util/clock.hpp"
#include "util/sqlite.hpp"

namespace lgsp::audit {
namespace {

namespace sq = sqlite;
using sq::ResetGuard;

// STRICT: a hand edit cannot slip text into an integer column (SQLite would otherwise keep it
// and read it back as 0). audit_subject's primary key is the (subject_hash, seq) index the
// access-log query walks backwards.
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS audit_log ("
    " seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, time_unix_ms INTEGER NOT NULL,"
    " request_id TEXT NOT NULL, partner_id TEXT NOT NULL, operation TEXT NOT NULL,"
    " subject_hashes TEXT NOT NULL, purpose TEXT NOT NULL, on_behalf_of TEXT NOT NULL,"
    " procedure_code TEXT NOT NULL, fields_released TEXT NOT NULL, outcome TEXT NOT NULL,"
    " http_status INTEGER NOT NULL, latency_us INTEGER NOT NULL, prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL, batch_id TEXT NOT NULL DEFAULT '',"
    " subject_count INTEGER NOT NULL DEFAULT 0, source TEXT NOT NULL DEFAULT '',"
    " source_seq INTEGER NOT NULL DEFAULT 0, withheld_until_ms INTEGER NOT NULL DEFAULT 0,"
    " withholding_ref TEXT NOT NULL DEFAULT '', consent_id TEXT NOT NULL DEFAULT '') STRICT;"
    "CREATE TABLE IF NOT EXISTS audit_subject ("
    " subject_hash TEXT NOT NULL, seq INTEGER NOT NULL,"
    " PRIMARY KEY (subject_hash, seq)) WITHOUT ROWID, STRICT;"
    "CREATE TABLE IF NOT EXISTS audit_conflict ("
    " id INTEGER PRIMARY KEY, detected_unix_ms INTEGER NOT NULL, event_id TEXT NOT NULL,"
    " event TEXT NOT NULL) STRICT;"
    "CREATE TABLE IF NOT EXISTS audit_signed_head ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL,"
    " signed_unix_ms INTEGER NOT NULL, key_id TEXT NOT NULL, signature TEXT NOT NULL) STRICT;";

/// Columns that a table created by an earlier release lacks, as ALTER TABLE adds them. The
/// defaults are the values the older rows were hashed with ("" and 0 hash as v1).
struct AddedColumn {
  const char* name;
  const char* definition;
};
constexpr AddedColumn kAddedColumns[] = {
    {"batch_id", "TEXT NOT NULL DEFAULT ''"},
    {"subject_count", "INTEGER NOT NULL DEFAULT 0"},
    {"source", "TEXT NOT NULL DEFAULT ''"},
    {"source_seq", "INTEGER NOT NULL DEFAULT 0"},
    {"withheld_until_ms", "INTEGER NOT NULL DEFAULT 0"},
    {"withholding_ref", "TEXT NOT NULL DEFAULT ''"},
    {"consent_id", "TEXT NOT NULL DEFAULT ''"},
};

constexpr int kOpenFlags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
constexpr int kReadOnlyFlags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX;

// A WriteTransaction (util/sqlite.hpp) takes the write lock at BEGIN: the head read in it
// stays the head until COMMIT, even with appenders in other processes; an exception
// mid-append rolls back and leaves the chain as it was.
using sq::WriteTransaction;

void step_done(sqlite3* db, sqlite3_stmt* s) {
  const int rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) {
    const std::string why = sqlite3_errmsg(db);
    sqlite3_reset(s);
    throw std::runtime_error("SQLite audit store: " + why);
  }
  sqlite3_reset(s);
}

/// Steps a query; throws on errors other than the end of rows.
bool step_row(sqlite3* db, sqlite3_stmt* s) {
  const int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw std::runtime_error(std::string("SQLite audit store: ") + sqlite3_errmsg(db));
}

/// The kAddedColumns that audit_log lacks.
std::vector<const AddedColumn*> missing_columns(sqlite3* db) {
  std::set<std::string> present;
  const sq::Stmt info = sq::prepare(db, "SELECT name FROM pragma_table_info('audit_log')");
  while (step_row(db, info.get())) present.insert(sq::column_text(info.get(), 0));
  std::vector<const AddedColumn*> missing;
  for (const auto& c : kAddedColumns) {
    if (present.count(c.name) == 0) missing.push_back(&c);
  }
  return missing;
}

/// Brings an audit_log created by an earlier release up to kSchema. Looks first without a
/// lock, so opening an up-to-date file (e.g. read-only, for verify) writes nothing; otherwise
/// looks again under the write lock, so two processes opening the same old file at once add
/// each column once.
void migrate(sqlite3* db, const std::string& path) {
  if (missing_columns(db).empty()) return;
  try {
    WriteTransaction tx(db);
    for (const AddedColumn* c : missing_columns(db)) {
      sq::exec(db,
               (std::string("ALTER TABLE audit_log ADD COLUMN ") + c->name + " " + c->definition)
                   .c_str());
    }
    tx.commit();
  } catch (const std::exception& e) {
    throw std::runtime_error("SQLite audit store " + path +
                             ": audit_log was created by an earlier release and lacks columns "
                             "(batch_id, subject_count, source, source_seq, withheld_until_ms, "
                             "withholding_ref, consent_id); adding them failed: " +
                             e.what() +
                             ". Hint: open the file once with write access (start the audit "
                             "writer), which adds them; older records keep verifying");
  }
}

/// A row selected with kLogColumns, exactly as stored.
AuditRecord read_record(sqlite3_stmt* s) {
  AuditRecord r;
  r.seq = sqlite3_column_int64(s, 0);
  r.event_id = sq::column_text(s, 1);
  r.time_unix_ms = sqlite3_column_int64(s, 2);
  r.request_id = sq::column_text(s, 3);
  r.partner_id = sq::column_text(s, 4);
  r.operation = sq::column_text(s, 5);
  r.subject_hashes = decode_list(r.seq, "subject_hashes", sq::column_text(s, 6));
  r.purpose = sq::column_text(s, 7);
  r.on_behalf_of = sq::column_text(s, 8);
  r.procedure_code = sq::column_text(s, 9);
  r.fields_released = decode_list(r.seq, "fields_released", sq::column_text(s, 10));
  r.outcome = sq::column_text(s, 11);
  r.http_status = checked_status(r.seq, sqlite3_column_int64(s, 12));
  r.latency_us = sqlite3_column_int64(s, 13);
  r.prev_hash = sq::column_text(s, 14);
  r.hash = sq::column_text(s, 15);
  r.batch_id = sq::column_text(s, 16);
  r.subject_count = sqlite3_column_int64(s, 17);
  r.source = sq::column_text(s, 18);
  r.source_seq = sqlite3_column_int64(s, 19);
  r.withheld_until_ms = sqlite3_column_int64(s, 20);
  r.withholding_ref = sq::column_text(s, 21);
  r.consent_id = sq::column_text(s, 22);
  return r;
}

/// The audit chain in one SQLite file. Two connections: appends go through one (serialised
/// by write_mu_ in this process and by BEGIN IMMEDIATE across processes), lookups through the
/// other; scans open their own so a long verify blocks neither.
class SqliteAuditStore final : public AuditStore {
 public:
  SqliteAuditStore(std::string path, Access access)
      : path_(std::move(path)), flags_(access == Access::kReadOnly ? kReadOnlyFlags : kOpenFlags) {
    if (access == Access::kReadWrite) prepare_writer();
    read_db_ = sq::open(path_, flags_);
    by_subject_ = sq::prepare(read_db_.get(), std::string("SELECT ") + prefixed_columns() +
                                                  " FROM audit_subject s JOIN audit_log l ON"
                                                  " l.seq = s.seq WHERE s.subject_hash = ?1 AND"
                                                  " s.seq < ?2"
                                                  " ORDER BY s.seq DESC LIMIT ?3");
    count_ = sq::prepare(read_db_.get(), "SELECT count(*) FROM audit_log");
    count_conflicts_ = sq::prepare(read_db_.get(), "SELECT count(*) FROM audit_conflict");
  }

  void sign_heads_with(HeadSigner signer) override {
    std::lock_guard lock(write_mu_);
    signer_ = std::move(signer);
  }

  std::optional<SignedHead> signed_head() override {
    std::lock_guard lock(read_mu_);
    // A file written by a release before signing has no such table (read-only: not added).
    const sq::Stmt exists = sq::prepare(
        read_db_.get(),
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_signed_head'");
    if (!step_row(read_db_.get(), exists.get())) return std::nullopt;
    const sq::Stmt s = sq::prepare(read_db_.get(), kSelectSignedHead);
    return read_signed_head(read_db_.get(), s.get());
  }

  Appended append(std::vector<AuditRecord> records) override {
    std::lock_guard lock(write_mu_);
    if (!write_db_) throw std::logic_error("SQLite audit store " + path_ + " is open read-only");
    sqlite3* db = write_db_.get();
    WriteTransaction tx(db);
    std::int64_t head_seq = 0;
    std::string head_hash;
    {
      ResetGuard reset(head_.get());
      if (step_row(db, head_.get())) {
        head_seq = sqlite3_column_int64(head_.get(), 0);
        head_hash = sq::column_text(head_.get(), 1);
      }
    }
    // Sign only on top of the head last signed: anything else was written by someone
    // without the key, and signing on top would vouch for it.
    const auto last_signed = read_signed_head(db, select_signed_head_.get());
    const bool may_sign =
        !last_signed || (last_signed->seq == head_seq && last_signed->hash == head_hash);
    Appended result;
    for (auto& r : records) {
      r.seq = head_seq + 1;
      r.prev_hash = head_hash;
      r.hash = chain_hash(r);
      if (!insert(db, r)) {
        // The id is stored: a redelivery, or a different event under the same id.
        if (redelivered(db, r)) {
          ++result.duplicates;
        } else {
          ++result.conflicts;
        }
        continue;
      }
      for (const auto& subject : r.subject_hashes) {
        sq::bind_text(insert_subject_.get(), 1, subject);
        sqlite3_bind_int64(insert_subject_.get(), 2, r.seq);
        step_done(db, insert_subject_.get());
      }
      head_seq = r.seq;
      head_hash = r.hash;
      ++result.appended;
    }
    if (signer_ && result.appended > 0) {
      if (may_sign) {
        store_signed_head(db, signer_(head_seq, head_hash));
      } else {
        result.left_unsigned = true;
      }
    }
    tx.commit();
    return result;
  }

  std::int64_t conflicts() override {
    std::lock_guard lock(read_mu_);
    ResetGuard reset(count_conflicts_.get());
    return step_row(read_db_.get(), count_conflicts_.get())
               ? sqlite3_column_int64(count_conflicts_.get(), 0)
               : 0;
  }

  std::vector<AuditRecord> by_subject(const std::string& subject_hash, std::int64_t before_seq,
                                      std::size_t limit) override {
    std::vector<AuditRecord> out;
    if (limit == 0) return out;
    std::lock_guard lock(read_mu_);
    sqlite3_stmt* s = by_subject_.get();
    ResetGuard reset(s);
    sq::bind_text(s, 1, subject_hash);
    sqlite3_bind_int64(s, 2,
                       before_seq > 0 ? before_seq : std::numeric_limits<std::int64_t>::max());
    sqlite3_bind_int64(s, 3, clamp_limit(limit));
    while (step_row(read_db_.get(), s)) out.push_back(read_record(s));
    return out;
  }

  void scan(const std::function<void(const AuditRecord&)>& visit) override {
    const sq::Db db = sq::open(path_, flags_);
    // One statement reads one snapshot: appends during the scan are not seen half-done.
    const sq::Stmt s = sq::prepare(
        db.get(), std::string("SELECT ") + kLogColumns + " FROM audit_log ORDER BY seq");
    while (step_row(db.get(), s.get())) visit(read_record(s.get()));
  }

  std::int64_t count() override {
    std::lock_guard lock(read_mu_);
    ResetGuard reset(count_.get());
    return step_row(read_db_.get(), count_.get()) ? sqlite3_column_int64(count_.get(), 0) : 0;
  }

  bool scan_subject_index(
      const std::function<void(std::int64_t, const std::string&)>& visit) override {
    const sq::Db db = sq::open(path_, flags_);
    const sq::Stmt s = sq::prepare(
        db.get(), "SELECT seq, subject_hash FROM audit_subject ORDER BY seq, subject_hash");
    while (step_row(db.get(), s.get())) {
      visit(sqlite3_column_int64(s.get(), 0), sq::column_text(s.get(), 1));
    }
    return true;
  }

 private:
  static constexpr const char* kSelectSignedHead =
      "SELECT seq, hash, signed_unix_ms, key_id, signature FROM audit_signed_head WHERE id = 1";

  static std::optional<SignedHead> read_signed_head(sqlite3* db, sqlite3_stmt* s) {
    ResetGuard reset(s);
    if (!step_row(db, s)) return std::nullopt;
    return SignedHead{sqlite3_column_int64(s, 0), sq::column_text(s, 1), sqlite3_column_int64(s, 2),
                      sq::column_text(s, 3), sq::column_text(s, 4)};
  }

  void prepare_writer() {
    write_db_ = sq::open(path_, kOpenFlags);
    // FULL: an appended batch is acknowledged upstream, so it must survive a power cut.
    // 32 MiB of page cache (SQLite's default is 2 MiB): every event inserts into two indexes
    // keyed by random values (event id, subject hash), so a small cache rereads index pages
    // from disk for nearly every insert once the chain is a few hundred thousand long.
    // Checkpoints every 10,000 WAL pages (SQLite's default: 1,000): an index page that many
    // commits touch in between is copied back to the database once, not once per 1,000.
    sq::exec(write_db_.get(),
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-32768;"
             " PRAGMA wal_autocheckpoint=10000;");
    sq::exec(write_db_.get(), kSchema);
    migrate(write_db_.get(), path_);
    head_ =
        sq::prepare(write_db_.get(), "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
    insert_ = sq::prepare(
        write_db_.get(),
        std::string("INSERT INTO audit_log (") + kLogColumns +
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
            " ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23) ON CONFLICT (event_id) DO NOTHING");
    insert_subject_ = sq::prepare(
        write_db_.get(), "INSERT OR IGNORE INTO audit_subject (subject_hash, seq) VALUES (?1, ?2)");
    find_event_ = sq::prepare(write_db_.get(), std::string("SELECT ") + kLogColumns +
                                                   " FROM audit_log WHERE event_id = ?1");
    insert_conflict_ = sq::prepare(
        write_db_.get(),
        "INSERT INTO audit_conflict (detected_unix_ms, event_id, event) VALUES (?1, ?2, ?3)");
    select_signed_head_ = sq::prepare(write_db_.get(), kSelectSignedHead);
    upsert_signed_head_ = sq::prepare(
        write_db_.get(),
        "INSERT INTO audit_signed_head (id, seq, hash, signed_unix_ms, key_id, signature)"
        " VALUES (1, ?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq,"
        " hash = excluded.hash, signed_unix_ms = excluded.signed_unix_ms,"
        " key_id = excluded.key_id, signature = excluded.signature");
  }

  static std::string prefixed_columns() {
    std::string out = "l.";
    for (const char* p = kLogColumns; *p != '\0'; ++p) {
      out += *p;
      if (*p == ' ') out += "l.";
    }
    return out;
  }

  static std::int64_t clamp_limit(std::size_t limit) {
    constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
    return static_cast<std::int64_t>(limit > kMax ? kMax : limit);
  }

  void store_signed_head(sqlite3* db, const SignedHead& h) {
    sqlite3_stmt* s = upsert_signed_head_.get();
    sqlite3_bind_int64(s, 1, h.seq);
    sq::bind_text(s, 2, h.hash);
    sqlite3_bind_int64(s, 3, h.signed_unix_ms);
    sq::bind_text(s, 4, h.key_id);
    sq::bind_text(s, 5, h.signature);
    step_done(db, s);
  }

  /// Inserts one record; false when its event_id is already stored.
  bool insert(sqlite3* db, const AuditRecord& r) {
    // Bound without copying (bind_text): these must outlive step_done(), which resets.
    const std::string subjects = encode_list(r.subject_hashes);
    const std::string fields = encode_list(r.fields_released);
    sqlite3_stmt* s = insert_.get();
    sqlite3_bind_int64(s, 1, r.seq);
    sq::bind_text(s, 2, r.event_id);
    sqlite3_bind_int64(s, 3, r.time_unix_ms);
    sq::bind_text(s, 4, r.request_id);
    sq::bind_text(s, 5, r.partner_id);
    sq::bind_text(s, 6, r.operation);
    sq::bind_text(s, 7, subjects);
    sq::bind_text(s, 8, r.purpose);
    sq::bind_text(s, 9, r.on_behalf_of);
    sq::bind_text(s, 10, r.procedure_code);
    sq::bind_text(s, 11, fields);
    sq::bind_text(s, 12, r.outcome);
    sqlite3_bind_int64(s, 13, r.http_status);
    sqlite3_bind_int64(s, 14, r.latency_us);
    sq::bind_text(s, 15, r.prev_hash);
    sq::bind_text(s, 16, r.hash);
    sq::bind_text(s, 17, r.batch_id);
    sqlite3_bind_int64(s, 18, r.subject_count);
    sq::bind_text(s, 19, r.source);
    sqlite3_bind_int64(s, 20, r.source_seq);
    sqlite3_bind_int64(s, 21, r.withheld_until_ms);
    sq::bind_text(s, 22, r.withholding_ref);
    sq::bind_text(s, 23, r.consent_id);
    step_done(db, s);
    return sqlite3_changes(db) == 1;
  }

  /// `r`'s id is stored: true when with the same content (a redelivery); otherwise keeps `r`
  /// in audit_conflict and returns false.
  bool redelivered(sqlite3* db, const AuditRecord& r) {
    {
      ResetGuard reset(find_event_.get());
      sq::bind_text(find_event_.get(), 1, r.event_id);
      if (step_row(db, find_event_.get()) && same_event(read_record(find_event_.get()), r))
        return true;
    }
    const std::string event = describe_event(r);
    sqlite3_bind_int64(insert_conflict_.get(), 1, util::unix_ms_now());
    sq::bind_text(insert_conflict_.get(), 2, r.event_id);
    sq::bind_text(insert_conflict_.get(), 3, event);
    step_done(db, insert_conflict_.get());
    return false;
  }

  std::string path_;
  int flags_;
  std::mutex write_mu_;
  HeadSigner signer_;
  sq::Db write_db_;
  sq::Stmt head_;
  sq::Stmt insert_;
  sq::Stmt insert_subject_;
  sq::Stmt find_event_;
  sq::Stmt insert_conflict_;
  sq::Stmt select_signed_head_;
  sq::Stmt upsert_signed_head_;
  std::mutex read_mu_;
  sq::Db read_db_;
  sq::Stmt by_subject_;
  sq::Stmt count_;
  sq::Stmt count_conflicts_;
};

}  // namespace

std::unique_ptr<AuditStore> open_sqlite_audit_store(const std::string& path, Access access) {
  return std::make_unique<SqliteAuditStore>(path, access);
}

std::unique_ptr<AuditStore> open_audit_store(const config::RegistryConfig& store,
                                             const std::string& config, Access access) {
  if (store.backend == "postgres") return open_postgres_audit_store(store.dsn(), access);
  if (store.sqlite_path.empty()) {
    throw config::ConfigError({config + ": audit.store: not configured (where the chain is kept)"});
  }
  return open_sqlite_audit_store(store.sqlite_path, access);
}

}  // namespace lgsp::audit
