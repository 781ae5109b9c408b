// The procedure store a cluster's gateways share (PostgreSQL): each procedure driven by one
// gateway at a time, under a lease timed by the database's clock (so the gateways' clocks
// need not agree).
#include <algorithm>
#include <pqxx/pqxx>

#include "procedures/store.hpp"
#include "util/pg_session.hpp"

namespace lgsp::procedures {
namespace {

constexpr const char* kSchema =
    "SELECT pg_advisory_xact_lock(hashtext('lgsp_procedures_schema'));"
    "CREATE TABLE IF NOT EXISTS procedures ("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL, partner_id TEXT NOT NULL,"
    " idempotency_key TEXT NOT NULL, fingerprint TEXT NOT NULL, request_id TEXT NOT NULL,"
    " purpose TEXT NOT NULL, on_behalf_of TEXT NOT NULL, procedure_code TEXT NOT NULL,"
    " input TEXT NOT NULL, state TEXT NOT NULL, cursor BIGINT NOT NULL, error TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL, finished_ms BIGINT NOT NULL,"
    " owner TEXT NOT NULL, lease_until_ms BIGINT NOT NULL);"
    "CREATE UNIQUE INDEX IF NOT EXISTS procedures_idempotency ON procedures"
    " (partner_id, idempotency_key) WHERE idempotency_key <> '';"
    "CREATE INDEX IF NOT EXISTS procedures_state ON procedures (state, created_ms);"
    "CREATE TABLE IF NOT EXISTS procedure_steps ("
    " procedure_id TEXT NOT NULL, idx BIGINT NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL,"
    " attempts BIGINT NOT NULL, result TEXT NOT NULL, detail TEXT NOT NULL,"
    " updated_ms BIGINT NOT NULL, PRIMARY KEY (procedure_id, idx));";

constexpr const char* kColumns =
    "id, name, partner_id, idempotency_key, fingerprint, request_id, purpose, on_behalf_of,"
    " procedure_code, input, state, cursor, error, created_ms, updated_ms, finished_ms";

/// The database's clock, in Unix milliseconds.
constexpr const char* kNow = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

std::string text(const pqxx::row& row, int i) {
  return row[i].is_null() ? std::string{} : row[i].c_str();
}

Procedure read_procedure(const pqxx::row& r) {
  Procedure p;
  p.id = text(r, 0);
  p.name = text(r, 1);
  p.partner_id = text(r, 2);
  p.idempotency_key = text(r, 3);
  p.fingerprint = text(r, 4);
  p.request_id = text(r, 5);
  p.purpose = text(r, 6);
  p.on_behalf_of = text(r, 7);
  p.procedure_code = text(r, 8);
  p.input = text(r, 9);
  p.state = state_from(text(r, 10)).value_or(State::kFailed);
  p.cursor = r[11].as<std::int64_t>();
  p.error = text(r, 12);
  p.created_ms = r[13].as<std::int64_t>();
  p.updated_ms = r[14].as<std::int64_t>();
  p.finished_ms = r[15].as<std::int64_t>();
  return p;
}

/// A step from the columns name, state, attempts, result, detail, updated_ms from `first`.
Step read_step(const pqxx::row& r, int first) {
  Step st;
  st.name = text(r, first);
  st.state = step_state_from(text(r, first + 1)).value_or(StepState::kFailed);
  st.attempts = r[first + 2].as<std::int64_t>();
  st.result = text(r, first + 3);
  st.detail = text(r, first + 4);
  st.updated_ms = r[first + 5].as<std::int64_t>();
  return st;
}

void write_step(pqxx::work& tx, const std::string& id, std::size_t index, const Step& st) {
  tx.exec_params(
      "INSERT INTO procedure_steps (procedure_id, idx, name, state, attempts, result, detail,"
      " updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (procedure_id, idx)"
      " DO UPDATE SET state = $4, attempts = $5, result = $6, detail = $7, updated_ms = $8",
      id, static_cast<std::int64_t>(index), st.name, std::string(to_string(st.state)), st.attempts,
      st.result, st.detail, st.updated_ms);
}

class PostgresProcedureStore final : public ProcedureStore {
 public:
  PostgresProcedureStore(std::string dsn, std::string owner, std::chrono::milliseconds lease)
      : session_(std::move(dsn), "procedure store (PostgreSQL)"),
        owner_(std::move(owner)),
        lease_ms_(lease.count()) {
    session_.run("open", [](pqxx::work& tx) { tx.exec(kSchema); });
  }

  std::pair<Procedure, bool> create(const Procedure& p) override {
    return session_.run("create", [&](pqxx::work& tx) -> std::pair<Procedure, bool> {
      const auto inserted = tx.exec_params(
          std::string("INSERT INTO procedures (") + kColumns +
              ", owner, lease_until_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
              " $12, $13, $14, $15, $16, $17, " +
              kNow +
              " + $18) ON CONFLICT (partner_id, idempotency_key) WHERE idempotency_key <> ''"
              " DO NOTHING",
          p.id, p.name, p.partner_id, p.idempotency_key, p.fingerprint, p.request_id, p.purpose,
          p.on_behalf_of, p.procedure_code, p.input, std::string(to_string(p.state)), p.cursor,
          p.error, p.created_ms, p.updated_ms, p.finished_ms, owner_, lease_ms_);
      if (inserted.affected_rows() == 0) {
        // The partner's earlier procedure under this key (committed: the insert waited for it).
        auto earlier =
            find(tx, "partner_id = $1 AND idempotency_key = $2", p.partner_id, p.idempotency_key);
        if (earlier) return {std::move(*earlier), false};
        throw std::runtime_error(
            "procedure store (PostgreSQL): create: the idempotency key's "
            "procedure vanished");
      }
      for (std::size_t k = 0; k < p.steps.size(); ++k) write_step(tx, p.id, k, p.steps[k]);
      return {p, true};
    });
  }

  std::optional<Procedure> get(std::string_view id) override {
    return session_.run("get",
                        [&](pqxx::work& tx) { return find(tx, "id = $1", std::string(id), {}); });
  }

  std::vector<Procedure> unfinished() override {
    return session_.run("unfinished", [&](pqxx::work& tx) {
      // Renew this gateway's leases and take over those run out, in one statement: a
      // procedure changes hands only when its owner has not renewed for a whole lease.
      tx.exec_params(std::string("UPDATE procedures SET owner = $1, lease_until_ms = ") + kNow +
                         " + $2 WHERE state IN " + kUnfinishedStates +
                         " AND (owner = $1 OR lease_until_ms < " + kNow + ")",
                     owner_, lease_ms_);
      std::vector<Procedure> out;
      for (const auto& row : tx.exec_params(std::string("SELECT ") + kColumns +
                                                " FROM procedures WHERE owner = $1 AND state IN " +
                                                kUnfinishedStates + " ORDER BY id COLLATE \"C\"",
                                            owner_)) {
        out.push_back(read_procedure(row));
      }
      auto p = out.begin();
      for (const auto& row : tx.exec_params(
               std::string("SELECT s.procedure_id, s.name, s.state, s.attempts, s.result,"
                           " s.detail, s.updated_ms FROM procedure_steps s JOIN procedures p"
                           " ON p.id = s.procedure_id WHERE p.owner = $1 AND p.state IN ") +
                   kUnfinishedStates + " ORDER BY s.procedure_id COLLATE \"C\", s.idx",
               owner_)) {
        const std::string id = text(row, 0);
        while (p != out.end() && p->id < id) ++p;
        if (p == out.end() || p->id != id) continue;
        p->steps.push_back(read_step(row, 1));
      }
      std::sort(out.begin(), out.end(),
                [](const Procedure& a, const Procedure& b) { return a.created_ms < b.created_ms; });
      return out;
    });
  }

  void save(const Procedure& p, std::size_t index) override {
    session_.run("save", [&](pqxx::work& tx) {
      const auto updated = tx.exec_params(
          "UPDATE procedures SET state = $2, cursor = $3, error = $4, updated_ms = $5,"
          " finished_ms = $6 WHERE id = $1 AND owner = $7",
          p.id, std::string(to_string(p.state)), p.cursor, p.error, p.updated_ms, p.finished_ms,
          owner_);
      if (updated.affected_rows() == 0) {
        throw LostProcedure("procedure " + p.id + " is driven by another gateway now");
      }
      write_step(tx, p.id, index, p.steps.at(index));
    });
  }

  std::int64_t purge(std::int64_t before_ms) override {
    return session_.run("purge", [&](pqxx::work& tx) {
      tx.exec_params(
          "DELETE FROM procedure_steps WHERE procedure_id IN (SELECT id FROM procedures WHERE"
          " state IN ('completed', 'failed') AND finished_ms < $1)",
          before_ms);
      return static_cast<std::int64_t>(
          tx.exec_params("DELETE FROM procedures WHERE state IN ('completed', 'failed') AND"
                         " finished_ms < $1",
                         before_ms)
              .affected_rows());
    });
  }

 private:
  std::optional<Procedure> find(pqxx::work& tx, const std::string& where, const std::string& a,
                                const std::string& b) {
    const auto rows =
        b.empty()
            ? tx.exec_params(std::string("SELECT ") + kColumns + " FROM procedures WHERE " + where,
                             a)
            : tx.exec_params(std::string("SELECT ") + kColumns + " FROM procedures WHERE " + where,
                             a, b);
    if (rows.empty()) return std::nullopt;
    Procedure p = read_procedure(rows[0]);
    for (const auto& row : tx.exec_params(
             "SELECT name, state, attempts, result, detail, updated_ms FROM procedure_steps"
             " WHERE procedure_id = $1 ORDER BY idx",
             p.id)) {
      p.steps.push_back(read_step(row, 0));
    }
    return p;
  }

  util::PgSession session_;
  const std::string owner_;
  const std::int64_t lease_ms_;
};

}  // namespace

std::unique_ptr<ProcedureStore> open_postgres_procedure_store(const std::string& dsn,
                                                              std::string owner,
                                                              std::chrono::milliseconds lease) {
  return std::make_unique<PostgresProcedureStore>(dsn, std::move(owner), lease);
}

}  // namespace lgsp::procedures
