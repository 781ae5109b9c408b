#include "consents/store.hpp"

#include <boost/json.hpp>
#include <pqxx/pqxx>
#include <stdexcept>

#include "util/pg_session.hpp"
#include "util/sqlite.hpp"

namespace lgsp::consents {

namespace json = boost::json;

std::string encode_scope(const std::vector<std::string>& scope) {
  json::array a;
  for (const auto& s : scope) a.emplace_back(s);
  return json::serialize(a);
}

std::vector<std::string> decode_scope(const std::string& text) {
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) throw std::runtime_error("consent store: scope is not a JSON array");
  std::vector<std::string> out;
  for (const auto& e : v.as_array()) {
    if (!e.is_string()) throw std::runtime_error("consent store: scope holds a non-string");
    out.emplace_back(e.as_string());
  }
  return out;
}

namespace {

// The columns in the order every statement selects them.
constexpr const char* kColumns =
    "consent_id, subject_hash, partner_id, purpose, scope, granted_ms, expires_ms, revoked_ms,"
    " recorded_by";

/// SQLite: the embedded default, one file per gateway (WAL: the writes are few and short).
class SqliteConsentStore final : public ConsentStore {
 public:
  explicit SqliteConsentStore(const std::string& path)
      : db_(sqlite::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX)) {
    sqlite3_busy_timeout(db_.get(), 2000);
    sqlite::exec(db_.get(),
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "CREATE TABLE IF NOT EXISTS consents (consent_id TEXT PRIMARY KEY,"
                 " subject_hash TEXT NOT NULL, partner_id TEXT NOT NULL, purpose TEXT NOT NULL,"
                 " scope TEXT NOT NULL, granted_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,"
                 " revoked_ms INTEGER NOT NULL DEFAULT 0, recorded_by TEXT NOT NULL) STRICT;"
                 "CREATE INDEX IF NOT EXISTS consents_by_subject"
                 " ON consents(subject_hash, granted_ms);");
    insert_ = sqlite::prepare(db_.get(), std::string("INSERT INTO consents (") + kColumns +
                                             ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    find_ = sqlite::prepare(
        db_.get(), std::string("SELECT ") + kColumns + " FROM consents WHERE consent_id = ?1");
    revoke_ = sqlite::prepare(db_.get(),
                              "UPDATE consents SET revoked_ms = ?3 WHERE consent_id = ?1 AND"
                              " subject_hash = ?2 AND revoked_ms = 0");
    by_subject_ = sqlite::prepare(db_.get(), std::string("SELECT ") + kColumns +
                                                 " FROM consents WHERE subject_hash = ?1"
                                                 " ORDER BY granted_ms DESC, consent_id LIMIT ?2");
  }

  void add(const Consent& c) override {
    sqlite3_stmt* s = insert_.get();
    sqlite::ResetGuard reset(s);
    const std::string scope = encode_scope(c.scope);
    sqlite::bind_text(s, 1, c.id);
    sqlite::bind_text(s, 2, c.subject_hash);
    sqlite::bind_text(s, 3, c.partner_id);
    sqlite::bind_text(s, 4, c.purpose);
    sqlite::bind_text(s, 5, scope);
    sqlite3_bind_int64(s, 6, c.granted_ms);
    sqlite3_bind_int64(s, 7, c.expires_ms);
    sqlite3_bind_int64(s, 8, c.revoked_ms);
    sqlite::bind_text(s, 9, c.recorded_by);
    done(s);
  }

  std::optional<Consent> find(const std::string& id) override {
    sqlite3_stmt* s = find_.get();
    sqlite::ResetGuard reset(s);
    sqlite::bind_text(s, 1, id);
    if (!row(s)) return std::nullopt;
    return read(s);
  }

  std::optional<Consent> revoke(const std::string& id, const std::string& subject_hash,
                                std::int64_t at_ms) override {
    {
      sqlite3_stmt* s = revoke_.get();
      sqlite::ResetGuard reset(s);
      sqlite::bind_text(s, 1, id);
      sqlite::bind_text(s, 2, subject_hash);
      sqlite3_bind_int64(s, 3, at_ms);
      done(s);
    }
    auto c = find(id);
    if (!c || c->subject_hash != subject_hash) return std::nullopt;
    return c;
  }

  std::vector<Consent> by_subject(const std::string& subject_hash, std::size_t limit) override {
    sqlite3_stmt* s = by_subject_.get();
    sqlite::ResetGuard reset(s);
    sqlite::bind_text(s, 1, subject_hash);
    sqlite3_bind_int64(s, 2, static_cast<std::int64_t>(limit));
    std::vector<Consent> out;
    while (row(s)) out.push_back(read(s));
    return out;
  }

 private:
  static Consent read(sqlite3_stmt* s) {
    Consent c;
    c.id = sqlite::column_text(s, 0);
    c.subject_hash = sqlite::column_text(s, 1);
    c.partner_id = sqlite::column_text(s, 2);
    c.purpose = sqlite::column_text(s, 3);
    c.scope = decode_scope(sqlite::column_text(s, 4));
    c.granted_ms = sqlite3_column_int64(s, 5);
    c.expires_ms = sqlite3_column_int64(s, 6);
    c.revoked_ms = sqlite3_column_int64(s, 7);
    c.recorded_by = sqlite::column_text(s, 8);
    return c;
  }
  bool row(sqlite3_stmt* s) {
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw std::runtime_error(std::string("consent store (SQLite): ") + sqlite3_errmsg(db_.get()));
  }
  void done(sqlite3_stmt* s) {
    if (sqlite3_step(s) != SQLITE_DONE)
      throw std::runtime_error(std::string("consent store (SQLite): ") + sqlite3_errmsg(db_.get()));
  }

  sqlite::Db db_;
  sqlite::Stmt insert_, find_, revoke_, by_subject_;
};

/// PostgreSQL: one store for every gateway replica. One connection, reopened on the next
/// call after it broke; every call one short transaction.
class PostgresConsentStore final : public ConsentStore {
 public:
  explicit PostgresConsentStore(std::string dsn)
      : session_(std::move(dsn), "consent store (PostgreSQL)") {
    session_.run("open", [](pqxx::work& tx) {
      // Two replicas starting at once: one creates, the other waits and finds it made.
      tx.exec("SELECT pg_advisory_xact_lock(hashtext('lgsp_consents_schema'))");
      tx.exec(
          "CREATE TABLE IF NOT EXISTS consents (consent_id TEXT PRIMARY KEY,"
          " subject_hash TEXT COLLATE \"C\" NOT NULL, partner_id TEXT NOT NULL,"
          " purpose TEXT NOT NULL, scope TEXT NOT NULL, granted_ms BIGINT NOT NULL,"
          " expires_ms BIGINT NOT NULL, revoked_ms BIGINT NOT NULL DEFAULT 0,"
          " recorded_by TEXT NOT NULL);"
          "CREATE INDEX IF NOT EXISTS consents_by_subject ON consents(subject_hash, granted_ms);");
    });
  }

  void add(const Consent& c) override {
    session_.run("add", [&](pqxx::work& tx) {
      tx.exec_params(std::string("INSERT INTO consents (") + kColumns +
                         ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                     c.id, c.subject_hash, c.partner_id, c.purpose, encode_scope(c.scope),
                     c.granted_ms, c.expires_ms, c.revoked_ms, c.recorded_by);
    });
  }

  std::optional<Consent> find(const std::string& id) override {
    return session_.run("find", [&](pqxx::work& tx) -> std::optional<Consent> {
      const auto rows = tx.exec_params(
          std::string("SELECT ") + kColumns + " FROM consents WHERE consent_id = $1", id);
      if (rows.empty()) return std::nullopt;
      return read(rows[0]);
    });
  }

  std::optional<Consent> revoke(const std::string& id, const std::string& subject_hash,
                                std::int64_t at_ms) override {
    return session_.run("revoke", [&](pqxx::work& tx) -> std::optional<Consent> {
      tx.exec_params(
          "UPDATE consents SET revoked_ms = $3 WHERE consent_id = $1 AND subject_hash = $2"
          " AND revoked_ms = 0",
          id, subject_hash, at_ms);
      const auto rows = tx.exec_params(std::string("SELECT ") + kColumns +
                                           " FROM consents WHERE consent_id = $1 AND"
                                           " subject_hash = $2",
                                       id, subject_hash);
      if (rows.empty()) return std::nullopt;
      return read(rows[0]);
    });
  }

  std::vector<Consent> by_subject(const std::string& subject_hash, std::size_t limit) override {
    return session_.run("list", [&](pqxx::work& tx) {
      std::vector<Consent> out;
      for (const auto& row : tx.exec_params(std::string("SELECT ") + kColumns +
                                                " FROM consents WHERE subject_hash = $1"
                                                " ORDER BY granted_ms DESC, consent_id LIMIT $2",
                                            subject_hash, static_cast<std::int64_t>(limit))) {
        out.push_back(read(row));
      }
      return out;
    });
  }

 private:
  static Consent read(const pqxx::row& r) {
    Consent c;
    c.id = r[0].c_str();
    c.subject_hash = r[1].c_str();
    c.partner_id = r[2].c_str();
    c.purpose = r[3].c_str();
    c.scope = decode_scope(r[4].c_str());
    c.granted_ms = r[5].as<std::int64_t>();
    c.expires_ms = r[6].as<std::int64_t>();
    c.revoked_ms = r[7].as<std::int64_t>();
    c.recorded_by = r[8].c_str();
    return c;
  }

  util::PgSession session_;
};

}  // namespace

std::unique_ptr<ConsentStore> open_consent_store(const config::RegistryConfig& cfg) {
  if (cfg.backend == "postgres") return std::make_unique<PostgresConsentStore>(cfg.dsn());
  return std::make_unique<SqliteConsentStore>(cfg.sqlite_path);
}

}  // namespace lgsp::consents
