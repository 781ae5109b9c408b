#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include <pqxx/pqxx>

namespace lgsp::registries::postgres {

template <class T>
using StoreResult = boost::system::result<T>;

/// boost::system view of PostgreSQL failures: 1 = connection lost, 2 = query failed.
const boost::system::error_category& postgres_category();

/// A fixed-size pool of libpqxx connections, each with the registry's prepared statements.
/// acquire() blocks until one is free; a connection found broken is reopened on its next
/// lease. Thread-safe. The first connection is opened in the constructor so a wrong DSN
/// stops the start with libpq's reason.
class Pool {
 public:
  using Prepare = std::function<void(pqxx::connection&)>;
  Pool(std::string dsn, std::size_t size, Prepare prepare);
  ~Pool();

  class Lease {
   public:
    Lease(Pool& pool, std::size_t slot) : pool_(&pool), slot_(slot) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), slot_(o.slot_) { o.pool_ = nullptr; }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    pqxx::connection& operator*() const;
    /// The connection failed: drop it so the next lease reconnects.
    void invalidate();

   private:
    Pool* pool_;
    std::size_t slot_;
  };
  Lease acquire();

 private:
  void release(std::size_t slot);

  std::string dsn_;
  Prepare prepare_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> conns_;
  std::vector<std::size_t> free_;
};

/// Runs a prepared statement with one text argument on a pooled connection; a lost
/// connection is dropped from the pool (reopened on its next lease) and reported as such.
using RowReader = std::function<void(const pqxx::row&)>;
boost::system::error_code query_rows(Pool& pool, const char* statement, const std::string& arg,
                                     const RowReader& read);

template <class Row, class Read>
StoreResult<std::vector<Row>> query(Pool& pool, const char* statement, const std::string& arg,
                                    Read read) {
  std::vector<Row> rows;
  if (const auto ec =
          query_rows(pool, statement, arg, [&](const pqxx::row& r) { rows.push_back(read(r)); })) {
    return ec;
  }
  return rows;
}

template <class Row, class Read>
StoreResult<std::optional<Row>> query_one(Pool& pool, const char* statement, std::string_view key,
                                          Read read) {
  auto rows = query<Row>(pool, statement, std::string(key), read);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<Row>{};
  return std::optional<Row>(std::move(rows->front()));
}

/// n rows spread evenly over the table by row_id (the "max_row" and "by_row" statements).
void spread_rows(Pool& pool, std::int64_t n, const RowReader& read);

template <class Row, class Read>
std::vector<Row> spread(Pool& pool, std::int64_t n, Read read) {
  std::vector<Row> out;
  spread_rows(pool, n, [&](const pqxx::row& r) { out.push_back(read(r)); });
  return out;
}

/// Prepares "by_<key>" for each (name, WHERE clause) on a table, and "by_row" / "max_row"
/// for samples.
Pool::Prepare prepare(const std::string& columns, const std::string& table,
                      const std::vector<std::pair<std::string, std::string>>& keys);

/// Column text ("" for NULL).
std::string text(const pqxx::row& r, int i);

/// A text[] literal (`{"a","b"}`) for one array parameter: libpqxx 6 has no conversion for
/// containers. Quoted and escaped, so any text survives; it is a value, never SQL.
std::string text_array(const std::vector<std::string>& values);

/// COPY-based bulk loader of one registry table for `lgsp seed`: one transaction drops and
/// recreates the table, streams the rows, builds the indexes and commits; readers see the
/// old table until the commit.
class TableLoader {
 public:
  TableLoader(const std::string& dsn, std::string table, const std::string& create,
              const std::vector<std::string>& columns, std::string indexes);
  ~TableLoader();
  TableLoader(const TableLoader&) = delete;
  TableLoader& operator=(const TableLoader&) = delete;
  pqxx::stream_to& stream() { return *stream_; }
  void finish(const std::vector<std::pair<std::string, std::string>>& meta);

 private:
  pqxx::connection conn_;
  std::string table_;
  std::string indexes_;
  std::unique_ptr<pqxx::work> tx_;
  std::unique_ptr<pqxx::stream_to> stream_;
};

}  // namespace lgsp::registries::postgres
