#include "registries/backends/change_outbox.hpp"

#include <boost/json/parse.hpp>
#include <stdexcept>

#include "registries/backends/sqlite_commands.hpp"
#include "util/clock.hpp"
#include "util/hashing.hpp"

namespace lgsp::registries::sqlite_rows {

std::string change_event_id(std::string_view registry, std::string_view command_id) {
  std::string material(registry);
  material.append("\n").append(command_id);
  return "chg-" + util::sha256_hex(material).substr(0, 32);
}

std::map<std::string, std::string> string_members(std::string_view json) {
  std::map<std::string, std::string> out;
  boost::system::error_code ec;
  const auto v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) return out;
  for (const auto& kv : v.as_object()) {
    if (kv.value().is_string()) out[std::string(kv.key())] = std::string(kv.value().as_string());
  }
  return out;
}

bus::v1::ChangeEvent make_change(std::string_view registry, const bus::v1::Request& request,
                                 const std::string& citizen_id, std::string_view result_json) {
  bus::v1::ChangeEvent e;
  e.set_event_id(change_event_id(registry, request.command_id()));
  e.set_registry(std::string(registry));
  e.set_kind(request.command());
  e.set_citizen_id(citizen_id);
  e.set_time_unix_ms(util::unix_ms_now());
  auto& data = *e.mutable_data();
  for (const auto& [k, v] : request.args()) data[k] = v;
  for (auto& [k, v] : string_members(result_json)) data[k] = std::move(v);
  if (const auto undone = undone_id(request.command_id()); undone != request.command_id())
    e.set_voids(change_event_id(registry, undone));
  return e;
}

void queue_change(sqlite3* db, const bus::v1::ChangeEvent& event) {
  auto s = sqlite::prepare(db, "INSERT INTO change_outbox (event) VALUES (?1)");
  const std::string bytes = bus::encode(event);
  sqlite3_bind_blob(s.get(), 1, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(s.get()) != SQLITE_DONE)
    throw std::runtime_error(std::string("SQLite: ") + sqlite3_errmsg(db));
}

sqlite3* ChangeOutbox::db() {
  if (!db_) {
    // CREATE: a connector's own outbox (an upstream registry's) starts as a new file.
    db_ = sqlite::open(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
    sqlite::exec(db_.get(), kOutboxSchema);
  }
  return db_.get();
}

std::vector<ChangeOutbox::Pending> ChangeOutbox::after(std::int64_t seq, std::size_t max) {
  auto s = sqlite::prepare(db(),
                           "SELECT seq, event FROM change_outbox WHERE seq > ?1"
                           " ORDER BY seq LIMIT ?2");
  sqlite3_bind_int64(s.get(), 1, seq);
  sqlite3_bind_int64(s.get(), 2, static_cast<std::int64_t>(max));
  std::vector<Pending> out;
  int rc = 0;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    const auto* blob = static_cast<const char*>(sqlite3_column_blob(s.get(), 1));
    out.push_back({sqlite3_column_int64(s.get(), 0),
                   std::string(blob, static_cast<std::size_t>(sqlite3_column_bytes(s.get(), 1)))});
  }
  if (rc != SQLITE_DONE)
    throw std::runtime_error(std::string("SQLite: ") + sqlite3_errmsg(db_.get()));
  return out;
}

std::int64_t ChangeOutbox::waiting() {
  auto s = sqlite::prepare(db(), "SELECT count(*) FROM change_outbox");
  return sqlite3_step(s.get()) == SQLITE_ROW ? sqlite3_column_int64(s.get(), 0) : 0;
}

void ChangeOutbox::add(const bus::v1::ChangeEvent& event) {
  sqlite::WriteTransaction tx(db());
  queue_change(db_.get(), event);
  tx.commit();
}

void ChangeOutbox::remove(const std::vector<std::int64_t>& seqs) {
  if (seqs.empty()) return;
  sqlite::WriteTransaction tx(db());
  auto s = sqlite::prepare(db_.get(), "DELETE FROM change_outbox WHERE seq = ?1");
  for (const auto seq : seqs) {
    sqlite3_bind_int64(s.get(), 1, seq);
    if (sqlite3_step(s.get()) != SQLITE_DONE)
      throw std::runtime_error(std::string("SQLite: ") + sqlite3_errmsg(db_.get()));
    sqlite3_reset(s.get());
  }
  tx.commit();
}

}  // namespace lgsp::registries::sqlite_rows
