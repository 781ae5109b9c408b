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

namespace lgsp::registries::vehicle {

template <class T>
using StoreResult = boost::system::result<T>;

/// Read access to the vehicle registry. Implementations: SQLite (embedded default) and
/// PostgreSQL; one instance per thread. "Not found" is an empty optional or vector.
class VehicleStore {
 public:
  virtual ~VehicleStore() = default;
  virtual StoreResult<std::optional<domain::VehicleRow>> find_by_plate(std::string_view plate) = 0;
  /// The citizen's vehicles, oldest registration first.
  virtual StoreResult<std::vector<domain::VehicleRow>> find_by_owner(
      std::string_view citizen_id) = 0;
  virtual std::vector<domain::VehicleRow> samples(std::int64_t n) = 0;
};

/// Bulk writer for `lgsp seed`, atomic at finish(). Not thread-safe.
class VehicleWriter {
 public:
  virtual ~VehicleWriter() = default;
  virtual void add(const domain::VehicleRow& row) = 0;
  virtual void finish(const Meta& meta) = 0;
};

/// The store (or writer) of the backend `rc` names; throws with the reason.
std::unique_ptr<VehicleStore> open_store(const config::RegistryConfig& rc);
std::unique_ptr<VehicleWriter> open_writer(const config::RegistryConfig& rc);

std::unique_ptr<VehicleStore> open_sqlite_store(const std::string& path);
std::unique_ptr<VehicleWriter> open_sqlite_writer(const std::string& path);
std::unique_ptr<VehicleStore> open_postgres_store(const std::string& dsn, std::size_t pool);
std::unique_ptr<VehicleWriter> open_postgres_writer(const std::string& dsn);

}  // namespace lgsp::registries::vehicle
