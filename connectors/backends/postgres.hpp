#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <pqxx/connection>

#include "connectors/backends/stores.hpp"

namespace lgsp::connectors::postgres {

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

/// The registries in PostgreSQL (real deployments): the same tables and columns as the
/// SQLite files, read with prepared statements through a pool.
class PopulationStore final : public connectors::PopulationStore {
 public:
  PopulationStore(const std::string& dsn, std::size_t pool_size);
  StoreResult<std::optional<domain::CitizenRecord>> find_citizen(
      std::string_view citizen_id) override;
  StoreResult<std::optional<domain::CitizenRecord>> find_by_legacy_id(
      std::string_view legacy_id) override;
  /// One prepared `citizen_id = ANY($1::text[])`, the IDs passed as one array parameter.
  StoreResult<std::vector<domain::CitizenRecord>> find_citizens(
      const std::vector<std::string>& citizen_ids) override;
  std::vector<domain::CitizenRecord> samples(std::int64_t n) override;

 private:
  Pool pool_;
};

class InsuranceStore final : public connectors::InsuranceStore {
 public:
  InsuranceStore(const std::string& dsn, std::size_t pool_size);
  StoreResult<std::optional<domain::InsuranceRow>> find_by_citizen(
      std::string_view citizen_id) override;
  StoreResult<std::optional<domain::InsuranceRow>> find_by_sin(std::string_view sin) override;
  std::vector<domain::InsuranceRow> samples(std::int64_t n) override;

 private:
  Pool pool_;
};

class VehicleStore final : public connectors::VehicleStore {
 public:
  VehicleStore(const std::string& dsn, std::size_t pool_size);
  StoreResult<std::optional<domain::VehicleRow>> find_by_plate(std::string_view plate) override;
  StoreResult<std::vector<domain::VehicleRow>> find_by_owner(std::string_view citizen_id) override;
  std::vector<domain::VehicleRow> samples(std::int64_t n) override;

 private:
  Pool pool_;
};

/// Bulk writers: one transaction that drops and recreates the table, streams the rows with
/// COPY, builds the indexes and commits; readers see the old table until the commit.
std::unique_ptr<PopulationWriter> population_writer(const std::string& dsn);
std::unique_ptr<InsuranceWriter> insurance_writer(const std::string& dsn);
std::unique_ptr<VehicleWriter> vehicle_writer(const std::string& dsn);

}  // namespace lgsp::connectors::postgres
