#include "changes/store.hpp"

#include <boost/json.hpp>
#include <stdexcept>

#include "registries/backends/change_outbox.hpp"

namespace lgsp::changes {

namespace json = boost::json;
using sqlite::column_text;

namespace {

constexpr const char* kSchema =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS changes (position INTEGER PRIMARY KEY, event_id TEXT NOT NULL"
    " UNIQUE, registry TEXT NOT NULL, kind TEXT NOT NULL, kind_key TEXT NOT NULL,"
    " citizen_id TEXT NOT NULL, data TEXT NOT NULL, voids TEXT NOT NULL,"
    " time_unix_ms INTEGER NOT NULL, received_unix_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS changes_by_kind ON changes(kind_key, position);"
    "CREATE INDEX IF NOT EXISTS changes_by_received ON changes(received_unix_ms);"
    "CREATE TABLE IF NOT EXISTS feed_state (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO feed_state VALUES ('next_offset', 0), ('purged_through', -1);"
    "CREATE TABLE IF NOT EXISTS webhook_cursors (partner_id TEXT PRIMARY KEY,"
    " after INTEGER NOT NULL);";

std::int64_t state(sqlite3* db, const char* name) {
  auto s = sqlite::prepare(db, "SELECT value FROM feed_state WHERE name = ?1");
  sqlite::bind_text(s.get(), 1, name);
  return sqlite3_step(s.get()) == SQLITE_ROW ? sqlite3_column_int64(s.get(), 0) : -1;
}

void set_state(sqlite3* db, const char* name, std::int64_t value) {
  auto s = sqlite::prepare(db, "UPDATE feed_state SET value = ?2 WHERE name = ?1");
  sqlite::bind_text(s.get(), 1, name);
  sqlite3_bind_int64(s.get(), 2, value);
  if (sqlite3_step(s.get()) != SQLITE_DONE)
    throw std::runtime_error(std::string("SQLite: ") + sqlite3_errmsg(db));
}

Change read_change(sqlite3_stmt* s) {
  Change c;
  c.offset = sqlite3_column_int64(s, 0);
  c.event_id = column_text(s, 1);
  c.registry = column_text(s, 2);
  c.kind = column_text(s, 3);
  c.citizen_id = column_text(s, 4);
  c.data = registries::sqlite_rows::string_members(column_text(s, 5));
  c.voids = column_text(s, 6);
  c.time_unix_ms = sqlite3_column_int64(s, 7);
  c.received_unix_ms = sqlite3_column_int64(s, 8);
  return c;
}

}  // namespace

ChangeStore::ChangeStore(const std::string& path)
    : writer_(
          sqlite::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX)) {
  sqlite::exec(writer_.get(), kSchema);
  reader_ = sqlite::open(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
  high_ = state(writer_.get(), "next_offset") - 1;
}

std::int64_t ChangeStore::next_offset() {
  std::lock_guard lock(write_mu_);
  return state(writer_.get(), "next_offset");
}

std::size_t ChangeStore::append(const std::vector<Change>& changes, std::int64_t next_offset) {
  std::lock_guard lock(write_mu_);
  sqlite::WriteTransaction tx(writer_.get());
  auto s = sqlite::prepare(writer_.get(),
                           "INSERT OR IGNORE INTO changes VALUES (?1, ?2, ?3, ?4, ?3 || '.' || ?4,"
                           " ?5, ?6, ?7, ?8, ?9)");
  std::size_t added = 0;
  for (const auto& c : changes) {
    json::object data;
    for (const auto& [k, v] : c.data) data[k] = v;
    const std::string text = json::serialize(data);
    sqlite3_bind_int64(s.get(), 1, c.offset);
    sqlite::bind_text(s.get(), 2, c.event_id);
    sqlite::bind_text(s.get(), 3, c.registry);
    sqlite::bind_text(s.get(), 4, c.kind);
    sqlite::bind_text(s.get(), 5, c.citizen_id);
    sqlite::bind_text(s.get(), 6, text);
    sqlite::bind_text(s.get(), 7, c.voids);
    sqlite3_bind_int64(s.get(), 8, c.time_unix_ms);
    sqlite3_bind_int64(s.get(), 9, c.received_unix_ms);
    if (sqlite3_step(s.get()) != SQLITE_DONE)
      throw std::runtime_error(std::string("SQLite: ") + sqlite3_errmsg(writer_.get()));
    added += static_cast<std::size_t>(sqlite3_changes(writer_.get()));
    sqlite3_reset(s.get());
  }
  set_state(writer_.get(), "next_offset", next_offset);
  tx.commit();
  high_ = next_offset - 1;
  return added;
}

Page ChangeStore::read(std::int64_t after, const std::set<std::string>& kinds, std::size_t limit) {
  std::lock_guard lock(read_mu_);
  sqlite3* db = reader_.get();
  Page page;
  // One read transaction: the high-water mark and the rows are of the same moment, so the
  // next cursor never skips a change stored in between.
  sqlite::exec(db, "BEGIN");
  try {
    const std::int64_t high = state(db, "next_offset") - 1;
    page.purged_through = state(db, "purged_through");
    // No cursor: from the oldest change kept. A cursor older than that: changes are lost to it.
    if (after < 0) {
      after = page.purged_through;
    } else {
      page.expired = after < page.purged_through;
    }
    std::string sql =
        "SELECT position, event_id, registry, kind, citizen_id, data, voids, time_unix_ms,"
        " received_unix_ms FROM changes WHERE position > ?1 AND kind_key IN (";
    // Numbered: an anonymous "?" after ?1 would be ?2, the limit.
    for (std::size_t i = 0; i < kinds.size(); ++i)
      sql += (i == 0 ? "?" : ", ?") + std::to_string(i + 3);
    sql += ") ORDER BY position LIMIT ?2";
    auto s = sqlite::prepare(db, sql);
    sqlite3_bind_int64(s.get(), 1, after);
    sqlite3_bind_int64(s.get(), 2, static_cast<std::int64_t>(limit));
    int i = 3;
    for (const auto& k : kinds) sqlite::bind_text(s.get(), i++, k);
    int rc = 0;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) page.changes.push_back(read_change(s.get()));
    if (rc != SQLITE_DONE) throw std::runtime_error(std::string("SQLite: ") + sqlite3_errmsg(db));
    page.next = page.changes.size() == limit ? page.changes.back().offset : std::max(after, high);
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  sqlite::exec(db, "COMMIT");
  return page;
}

std::size_t ChangeStore::purge(std::int64_t before_unix_ms) {
  std::lock_guard lock(write_mu_);
  sqlite::WriteTransaction tx(writer_.get());
  auto last = sqlite::prepare(writer_.get(),
                              "SELECT max(position) FROM changes WHERE received_unix_ms < ?1");
  sqlite3_bind_int64(last.get(), 1, before_unix_ms);
  if (sqlite3_step(last.get()) != SQLITE_ROW || sqlite3_column_type(last.get(), 0) == SQLITE_NULL)
    return 0;
  const std::int64_t through = sqlite3_column_int64(last.get(), 0);
  auto del = sqlite::prepare(writer_.get(), "DELETE FROM changes WHERE position <= ?1");
  sqlite3_bind_int64(del.get(), 1, through);
  if (sqlite3_step(del.get()) != SQLITE_DONE)
    throw std::runtime_error(std::string("SQLite: ") + sqlite3_errmsg(writer_.get()));
  const auto n = static_cast<std::size_t>(sqlite3_changes(writer_.get()));
  set_state(writer_.get(), "purged_through", through);
  tx.commit();
  return n;
}

std::int64_t ChangeStore::webhook_cursor(const std::string& partner_id) {
  std::lock_guard lock(write_mu_);
  auto s =
      sqlite::prepare(writer_.get(), "SELECT after FROM webhook_cursors WHERE partner_id = ?1");
  sqlite::bind_text(s.get(), 1, partner_id);
  return sqlite3_step(s.get()) == SQLITE_ROW ? sqlite3_column_int64(s.get(), 0) : -1;
}

void ChangeStore::set_webhook_cursor(const std::string& partner_id, std::int64_t after) {
  std::lock_guard lock(write_mu_);
  auto s = sqlite::prepare(writer_.get(),
                           "INSERT INTO webhook_cursors VALUES (?1, ?2) ON CONFLICT (partner_id)"
                           " DO UPDATE SET after = excluded.after");
  sqlite::bind_text(s.get(), 1, partner_id);
  sqlite3_bind_int64(s.get(), 2, after);
  if (sqlite3_step(s.get()) != SQLITE_DONE)
    throw std::runtime_error(std::string("SQLite: ") + sqlite3_errmsg(writer_.get()));
}

}  // namespace lgsp::changes
