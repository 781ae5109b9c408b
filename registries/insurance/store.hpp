#pragma once

#include <boost/system/result.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "domain/citizen.hpp"
#include "registries/registry.hpp"

namespace lgsp::registries::insurance {

template <class T>
using StoreResult = boost::system::result<T>;

/// Read access to the social/health insurance registry (one record per insured citizen).
/// Implementations: SQLite (embedded default) and PostgreSQL; one instance per thread.
/// "Not found" is an empty optional; an error means the store could not answer.
class InsuranceStore {
 public:
  virtual ~InsuranceStore() = default;
  virtual StoreResult<std::optional<domain::InsuranceRow>> find_by_citizen(
      std::string_view citizen_id) = 0;
  virtual StoreResult<std::optional<domain::InsuranceRow>> find_by_sin(std::string_view sin) = 0;
  virtual std::vector<domain::InsuranceRow> samples(std::int64_t n) = 0;
};

/// Bulk writer for `lgsp seed`, atomic at finish(). Not thread-safe.
class InsuranceWriter {
 public:
  virtual ~InsuranceWriter() = default;
  virtual void add(const domain::InsuranceRow& row) = 0;
  virtual void finish(const Meta& meta) = 0;
};

/// The store (or writer) of the backend `rc` names; throws with the reason.
std::unique_ptr<InsuranceStore> open_store(const config::RegistryConfig& rc);
std::unique_ptr<InsuranceWriter> open_writer(const config::RegistryConfig& rc);

std::unique_ptr<InsuranceStore> open_sqlite_store(const std::string& path);
std::unique_ptr<InsuranceWriter> open_sqlite_writer(const std::string& path);
std::unique_ptr<InsuranceStore> open_postgres_store(const std::string& dsn, std::size_t pool);
std::unique_ptr<InsuranceWriter> open_postgres_writer(const std::string& dsn);

}  // namespace lgsp::registries::insurance
