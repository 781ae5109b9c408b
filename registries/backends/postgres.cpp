#include "registries/backends/postgres.hpp"

#include <pqxx/pqxx>

#include <stdexcept>
#include <tuple>

#include "observability/log.hpp"

namespace lgsp::registries::postgres {
namespace {

class PostgresCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "postgres"; }
  std::string message(int ev) const override {
    return ev == 1 ? "connection to PostgreSQL lost" : "PostgreSQL query failed";
  }
};

boost::system::error_code lost() { return {1, postgres_category()}; }
boost::system::error_code failed() { return {2, postgres_category()}; }

}  // namespace

std::string text(const pqxx::row& r, int i) {
  return r[i].is_null() ? std::string{} : r[i].c_str();
}

std::string text_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (const auto& v : values) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (const char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

Pool::Prepare prepare(const std::string& columns, const std::string& table,
                      const std::vector<std::pair<std::string, std::string>>& keys) {
  const std::string select = "SELECT " + columns + " FROM " + table + " WHERE ";
  std::vector<std::pair<std::string, std::string>> statements;
  statements.reserve(keys.size() + 2);
  for (const auto& [name, where] : keys) statements.emplace_back(name, select + where);
  statements.emplace_back("by_row", select + "row_id = $1");
  statements.emplace_back("max_row", "SELECT coalesce(max(row_id), 0) FROM " + table);
  return [statements](pqxx::connection& c) {
    for (const auto& [name, sql] : statements) c.prepare(name, sql);
  };
}

const boost::system::error_category& postgres_category() {
  static const PostgresCategory category;
  return category;
}

Pool::Pool(std::string dsn, std::size_t size, Prepare prepare)
    : dsn_(std::move(dsn)), prepare_(std::move(prepare)), conns_(size) {
  for (std::size_t i = 0; i < size; ++i) free_.push_back(size - 1 - i);
  // Fail fast on a wrong DSN or schema: open and prepare the first connection now.
  conns_[0] = std::make_unique<pqxx::connection>(dsn_);
  prepare_(*conns_[0]);
}

Pool::~Pool() = default;

Pool::Lease Pool::acquire() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !free_.empty(); });
  const std::size_t slot = free_.back();
  free_.pop_back();
  if (!conns_[slot]) {
    lock.unlock();
    try {
      auto c = std::make_unique<pqxx::connection>(dsn_);
      prepare_(*c);
      conns_[slot] = std::move(c);
    } catch (...) {
      release(slot);
      throw;
    }
  }
  return Lease(*this, slot);
}

void Pool::release(std::size_t slot) {
  {
    std::lock_guard lock(mu_);
    free_.push_back(slot);
  }
  cv_.notify_one();
}

Pool::Lease::~Lease() {
  if (pool_ != nullptr) pool_->release(slot_);
}

pqxx::connection& Pool::Lease::operator*() const { return *pool_->conns_[slot_]; }

void Pool::Lease::invalidate() {
  std::lock_guard lock(pool_->mu_);
  pool_->conns_[slot_].reset();
}

boost::system::error_code query_rows(Pool& pool, const char* statement, const std::string& arg,
                                     const RowReader& read) {
  auto lease = pool.acquire();
  try {
    pqxx::nontransaction tx(*lease);
    for (const auto& row : tx.exec_prepared(statement, arg)) read(row);
    return {};
  } catch (const pqxx::broken_connection& e) {
    lease.invalidate();
    obs::error("postgres_connection_lost", {{"statement", statement}, {"error", e.what()}});
    return lost();
  } catch (const std::exception& e) {
    obs::error("postgres_query_failed", {{"statement", statement}, {"error", e.what()}});
    return failed();
  }
}

void spread_rows(Pool& pool, std::int64_t n, const RowReader& read) {
  auto lease = pool.acquire();
  pqxx::nontransaction tx(*lease);
  const auto total = tx.exec_prepared("max_row")[0][0].as<std::int64_t>();
  if (total == 0 || n <= 0) return;
  const std::int64_t step = std::max<std::int64_t>(1, total / n);
  for (std::int64_t i = 0; i < n && i * step < total; ++i) {
    const auto r = tx.exec_prepared("by_row", 1 + i * step);
    if (!r.empty()) read(r[0]);
  }
}

TableLoader::TableLoader(const std::string& dsn, std::string table, const std::string& create,
                         const std::vector<std::string>& columns, std::string indexes)
    : conn_(dsn), table_(std::move(table)), indexes_(std::move(indexes)) {
  // Outside the load transaction: several loaders run at once (one per registry), and an
  // uncommitted CREATE of this shared table would block the others until the first commits.
  pqxx::nontransaction(conn_).exec(
      "CREATE TABLE IF NOT EXISTS registry_meta (registry TEXT NOT NULL, key TEXT NOT NULL,"
      " value TEXT NOT NULL, PRIMARY KEY (registry, key))");
  tx_ = std::make_unique<pqxx::work>(conn_);
  tx_->exec("DROP TABLE IF EXISTS " + table_);
  tx_->exec(create);
  stream_ = std::make_unique<pqxx::stream_to>(*tx_, table_, columns);
}

TableLoader::~TableLoader() = default;

void TableLoader::finish(const std::vector<std::pair<std::string, std::string>>& meta) {
  stream_->complete();
  tx_->exec(indexes_);
  tx_->exec("DELETE FROM registry_meta WHERE registry = " + tx_->quote(table_));
  for (const auto& [k, v] : meta) {
    tx_->exec("INSERT INTO registry_meta VALUES (" + tx_->quote(table_) + ", " + tx_->quote(k) +
              ", " + tx_->quote(v) + ")");
  }
  tx_->commit();
  stream_.reset();
  tx_.reset();
  pqxx::nontransaction(conn_).exec("ANALYZE " + table_);
}

}  // namespace lgsp::registries::postgres
