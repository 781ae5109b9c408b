#include "procedures/store.hpp"

#include <algorithm>
#include <array>
#include <mutex>
#include <stdexcept>

#include "util/sqlite.hpp"

namespace lgsp::procedures {
namespace {

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS procedures ("
    " id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, partner_id TEXT NOT NULL,"
    " idempotency_key TEXT NOT NULL, fingerprint TEXT NOT NULL, request_id TEXT NOT NULL,"
    " purpose TEXT NOT NULL, on_behalf_of TEXT NOT NULL, procedure_code TEXT NOT NULL,"
    " input TEXT NOT NULL, state TEXT NOT NULL, cursor INTEGER NOT NULL, error TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL)"
    " STRICT;"
    "CREATE UNIQUE INDEX IF NOT EXISTS procedures_idempotency ON procedures"
    " (partner_id, idempotency_key) WHERE idempotency_key <> '';"
    "CREATE INDEX IF NOT EXISTS procedures_state ON procedures (state, created_ms);"
    "CREATE TABLE IF NOT EXISTS procedure_steps ("
    " procedure_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL,"
    " attempts INTEGER NOT NULL, result TEXT NOT NULL, detail TEXT NOT NULL,"
    " updated_ms INTEGER NOT NULL, PRIMARY KEY (procedure_id, idx)) WITHOUT ROWID, STRICT;";

constexpr const char* kColumns =
    "id, name, partner_id, idempotency_key, fingerprint, request_id, purpose, on_behalf_of,"
    " procedure_code, input, state, cursor, error, created_ms, updated_ms, finished_ms";

constexpr std::array<std::string_view, 4> kStates{"running", "compensating", "completed", "failed"};
constexpr std::array<std::string_view, 5> kStepStates{"pending", "done", "failed", "undone",
                                                      "undo_failed"};

void step_done(sqlite3* db, sqlite3_stmt* s) {
  if (sqlite3_step(s) != SQLITE_DONE)
    throw std::runtime_error(std::string("procedure store: ") + sqlite3_errmsg(db));
}

Procedure read_procedure(sqlite3_stmt* s) {
  using sqlite::column_text;
  Procedure p;
  p.id = column_text(s, 0);
  p.name = column_text(s, 1);
  p.partner_id = column_text(s, 2);
  p.idempotency_key = column_text(s, 3);
  p.fingerprint = column_text(s, 4);
  p.request_id = column_text(s, 5);
  p.purpose = column_text(s, 6);
  p.on_behalf_of = column_text(s, 7);
  p.procedure_code = column_text(s, 8);
  p.input = column_text(s, 9);
  p.state = state_from(column_text(s, 10)).value_or(State::kFailed);
  p.cursor = sqlite3_column_int64(s, 11);
  p.error = column_text(s, 12);
  p.created_ms = sqlite3_column_int64(s, 13);
  p.updated_ms = sqlite3_column_int64(s, 14);
  p.finished_ms = sqlite3_column_int64(s, 15);
  return p;
}

/// A step from the columns name, state, attempts, result, detail, updated_ms from `first`.
Step read_step(sqlite3_stmt* s, int first) {
  Step st;
  st.name = sqlite::column_text(s, first);
  st.state = step_state_from(sqlite::column_text(s, first + 1)).value_or(StepState::kFailed);
  st.attempts = sqlite3_column_int64(s, first + 2);
  st.result = sqlite::column_text(s, first + 3);
  st.detail = sqlite::column_text(s, first + 4);
  st.updated_ms = sqlite3_column_int64(s, first + 5);
  return st;
}

using Transaction = sqlite::WriteTransaction;

void write_step(sqlite3* db, std::string_view id, std::size_t index, const Step& st) {
  auto s = sqlite::prepare(
      db,
      "INSERT INTO procedure_steps (procedure_id, idx, name, state, attempts, result, detail,"
      " updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (procedure_id, idx)"
      " DO UPDATE SET state = ?4, attempts = ?5, result = ?6, detail = ?7, updated_ms = ?8");
  sqlite::bind_text(s.get(), 1, id);
  sqlite3_bind_int64(s.get(), 2, static_cast<std::int64_t>(index));
  sqlite::bind_text(s.get(), 3, st.name);
  sqlite::bind_text(s.get(), 4, to_string(st.state));
  sqlite3_bind_int64(s.get(), 5, st.attempts);
  sqlite::bind_text(s.get(), 6, st.result);
  sqlite::bind_text(s.get(), 7, st.detail);
  sqlite3_bind_int64(s.get(), 8, st.updated_ms);
  step_done(db, s.get());
}

}  // namespace

std::string_view to_string(State s) { return kStates.at(static_cast<std::size_t>(s)); }
std::optional<State> state_from(std::string_view s) {
  for (std::size_t i = 0; i < kStates.size(); ++i)
    if (kStates.at(i) == s) return static_cast<State>(i);
  return std::nullopt;
}
std::string_view to_string(StepState s) { return kStepStates.at(static_cast<std::size_t>(s)); }
std::optional<StepState> step_state_from(std::string_view s) {
  for (std::size_t i = 0; i < kStepStates.size(); ++i)
    if (kStepStates.at(i) == s) return static_cast<StepState>(i);
  return std::nullopt;
}

namespace {

class SqliteProcedureStore final : public ProcedureStore {
 public:
  explicit SqliteProcedureStore(const std::string& path);
  std::pair<Procedure, bool> create(const Procedure& p) override;
  std::optional<Procedure> get(std::string_view id) override;
  std::vector<Procedure> unfinished() override;
  void save(const Procedure& p, std::size_t index) override;
  std::int64_t purge(std::int64_t before_ms) override;

 private:
  std::vector<Step> steps_of(std::string_view id);
  std::optional<Procedure> find(std::string_view where, std::string_view a, std::string_view b);

  std::mutex mu_;  // one connection; procedures are few and small
  sqlite::Db db_;
};

SqliteProcedureStore::SqliteProcedureStore(const std::string& path)
    : db_(sqlite::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX)) {
  sqlite::exec(db_.get(), "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
  sqlite::exec(db_.get(), kSchema);
}

std::vector<Step> SqliteProcedureStore::steps_of(std::string_view id) {
  auto s = sqlite::prepare(db_.get(),
                           "SELECT name, state, attempts, result, detail, updated_ms FROM"
                           " procedure_steps WHERE procedure_id = ?1 ORDER BY idx");
  sqlite::bind_text(s.get(), 1, id);
  std::vector<Step> out;
  while (sqlite3_step(s.get()) == SQLITE_ROW) out.push_back(read_step(s.get(), 0));
  return out;
}

std::optional<Procedure> SqliteProcedureStore::find(std::string_view where, std::string_view a,
                                                    std::string_view b) {
  auto s = sqlite::prepare(db_.get(), std::string("SELECT ") + kColumns +
                                          " FROM procedures WHERE " + std::string(where));
  sqlite::bind_text(s.get(), 1, a);
  if (!b.empty()) sqlite::bind_text(s.get(), 2, b);
  if (sqlite3_step(s.get()) != SQLITE_ROW) return std::nullopt;
  Procedure p = read_procedure(s.get());
  p.steps = steps_of(p.id);
  return p;
}

std::pair<Procedure, bool> SqliteProcedureStore::create(const Procedure& p) {
  const std::lock_guard lock(mu_);
  Transaction tx(db_.get());
  if (!p.idempotency_key.empty()) {
    if (auto earlier =
            find("partner_id = ?1 AND idempotency_key = ?2", p.partner_id, p.idempotency_key))
      return {std::move(*earlier), false};
  }
  auto s = sqlite::prepare(db_.get(), std::string("INSERT INTO procedures (") + kColumns +
                                          ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
                                          " ?10, ?11, ?12, ?13, ?14, ?15, ?16)");
  int i = 1;
  for (std::string_view v :
       {std::string_view(p.id), std::string_view(p.name), std::string_view(p.partner_id),
        std::string_view(p.idempotency_key), std::string_view(p.fingerprint),
        std::string_view(p.request_id), std::string_view(p.purpose),
        std::string_view(p.on_behalf_of), std::string_view(p.procedure_code),
        std::string_view(p.input), to_string(p.state)})
    sqlite::bind_text(s.get(), i++, v);
  sqlite3_bind_int64(s.get(), 12, p.cursor);
  sqlite::bind_text(s.get(), 13, p.error);
  sqlite3_bind_int64(s.get(), 14, p.created_ms);
  sqlite3_bind_int64(s.get(), 15, p.updated_ms);
  sqlite3_bind_int64(s.get(), 16, p.finished_ms);
  step_done(db_.get(), s.get());
  for (std::size_t k = 0; k < p.steps.size(); ++k) write_step(db_.get(), p.id, k, p.steps[k]);
  tx.commit();
  return {p, true};
}

std::optional<Procedure> SqliteProcedureStore::get(std::string_view id) {
  const std::lock_guard lock(mu_);
  return find("id = ?1", id, {});
}

std::vector<Procedure> SqliteProcedureStore::unfinished() {
  const std::lock_guard lock(mu_);
  auto s = sqlite::prepare(db_.get(), std::string("SELECT ") + kColumns +
                                          " FROM procedures WHERE state IN ('running',"
                                          " 'compensating') ORDER BY id");
  std::vector<Procedure> out;
  while (sqlite3_step(s.get()) == SQLITE_ROW) out.push_back(read_procedure(s.get()));
  // Their steps in one query, in the same order of procedure ids.
  auto steps = sqlite::prepare(
      db_.get(),
      "SELECT procedure_id, name, state, attempts, result, detail, updated_ms FROM"
      " procedure_steps WHERE procedure_id IN (SELECT id FROM procedures WHERE state IN"
      " ('running', 'compensating')) ORDER BY procedure_id, idx");
  auto p = out.begin();
  while (sqlite3_step(steps.get()) == SQLITE_ROW) {
    const std::string id = sqlite::column_text(steps.get(), 0);
    while (p != out.end() && p->id < id) ++p;
    if (p == out.end() || p->id != id) continue;  // created between the two queries
    p->steps.push_back(read_step(steps.get(), 1));
  }
  std::sort(out.begin(), out.end(),
            [](const Procedure& a, const Procedure& b) { return a.created_ms < b.created_ms; });
  return out;
}

void SqliteProcedureStore::save(const Procedure& p, std::size_t index) {
  const std::lock_guard lock(mu_);
  Transaction tx(db_.get());
  auto s = sqlite::prepare(db_.get(),
                           "UPDATE procedures SET state = ?2, cursor = ?3, error = ?4,"
                           " updated_ms = ?5, finished_ms = ?6 WHERE id = ?1");
  sqlite::bind_text(s.get(), 1, p.id);
  sqlite::bind_text(s.get(), 2, to_string(p.state));
  sqlite3_bind_int64(s.get(), 3, p.cursor);
  sqlite::bind_text(s.get(), 4, p.error);
  sqlite3_bind_int64(s.get(), 5, p.updated_ms);
  sqlite3_bind_int64(s.get(), 6, p.finished_ms);
  step_done(db_.get(), s.get());
  write_step(db_.get(), p.id, index, p.steps.at(index));
  tx.commit();
}

std::int64_t SqliteProcedureStore::purge(std::int64_t before_ms) {
  const std::lock_guard lock(mu_);
  Transaction tx(db_.get());
  auto steps = sqlite::prepare(
      db_.get(),
      "DELETE FROM procedure_steps WHERE procedure_id IN (SELECT id FROM procedures WHERE state"
      " IN ('completed', 'failed') AND finished_ms < ?1)");
  sqlite3_bind_int64(steps.get(), 1, before_ms);
  step_done(db_.get(), steps.get());
  auto s = sqlite::prepare(db_.get(),
                           "DELETE FROM procedures WHERE state IN ('completed', 'failed') AND"
                           " finished_ms < ?1");
  sqlite3_bind_int64(s.get(), 1, before_ms);
  step_done(db_.get(), s.get());
  const auto n = sqlite3_changes(db_.get());
  tx.commit();
  return n;
}

}  // namespace

std::unique_ptr<ProcedureStore> open_sqlite_procedure_store(const std::string& path) {
  return std::make_unique<SqliteProcedureStore>(path);
}

}  // namespace lgsp::procedures
