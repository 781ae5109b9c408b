// The vehicle registry in a SQLite file (the embedded default).
#include "registries/backends/sqlite_rows.hpp"
#include "registries/vehicle/store.hpp"

namespace lgsp::registries::vehicle {
namespace {

namespace rows = sqlite_rows;
using sqlite::column_text;

constexpr std::string_view kColumns =
    "plate_number, owner_citizen_id, vehicle_type, brand, model, colour, engine_number, "
    "chassis_number, registration_date, status";

domain::VehicleRow read_vehicle(sqlite3_stmt* s) {
  return {column_text(s, 0), column_text(s, 1), column_text(s, 2), column_text(s, 3),
          column_text(s, 4), column_text(s, 5), column_text(s, 6), column_text(s, 7),
          column_text(s, 8), column_text(s, 9)};
}

class SqliteStore final : public VehicleStore {
 public:
  explicit SqliteStore(const std::string& path)
      : db_(rows::open_registry(path, "vehicle")),
        by_plate_(rows::select(db_.get(), kColumns, "vehicles", "plate_number = ?1")),
        by_owner_(rows::select(db_.get(), kColumns, "vehicles",
                               "owner_citizen_id = ?1 ORDER BY registration_date")) {}

  StoreResult<std::optional<domain::VehicleRow>> find_by_plate(std::string_view plate) override {
    return rows::query_one<domain::VehicleRow>(by_plate_.get(), plate, read_vehicle);
  }
  StoreResult<std::vector<domain::VehicleRow>> find_by_owner(std::string_view id) override {
    return rows::query<domain::VehicleRow>(by_owner_.get(), id, read_vehicle);
  }
  std::vector<domain::VehicleRow> samples(std::int64_t n) override {
    return rows::spread<domain::VehicleRow>(db_.get(), kColumns, "vehicles", n, read_vehicle);
  }

 private:
  sqlite::Db db_;
  sqlite::Stmt by_plate_;
  sqlite::Stmt by_owner_;
};

class SqliteWriter final : public VehicleWriter {
 public:
  explicit SqliteWriter(std::string path)
      : w_(std::move(path),
           "CREATE TABLE vehicles (plate_number TEXT NOT NULL, owner_citizen_id TEXT NOT NULL,"
           " vehicle_type TEXT NOT NULL, brand TEXT NOT NULL, model TEXT NOT NULL,"
           " colour TEXT NOT NULL, engine_number TEXT NOT NULL, chassis_number TEXT NOT NULL,"
           " registration_date TEXT NOT NULL, status TEXT NOT NULL);",
           "INSERT INTO vehicles VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)") {}
  void add(const domain::VehicleRow& r) override {
    rows::bind_all(w_.insert(),
                   {r.plate_number, r.owner_citizen_id, r.vehicle_type, r.brand, r.model, r.colour,
                    r.engine_number, r.chassis_number, r.registration_date, r.status});
    w_.step_insert();
  }
  void finish(const Meta& meta) override {
    w_.finish(
        "CREATE UNIQUE INDEX vehicles_by_plate ON vehicles(plate_number);"
        "CREATE INDEX vehicles_by_owner ON vehicles(owner_citizen_id);",
        meta);
  }

 private:
  sqlite::BulkWriter w_;
};

}  // namespace

std::unique_ptr<VehicleStore> open_sqlite_store(const std::string& path) {
  return std::make_unique<SqliteStore>(path);
}
std::unique_ptr<VehicleWriter> open_sqlite_writer(const std::string& path) {
  return std::make_unique<SqliteWriter>(path);
}

std::unique_ptr<VehicleStore> open_store(const config::RegistryConfig& rc) {
  if (rc.backend == "postgres")
    return open_postgres_store(rc.dsn(), static_cast<std::size_t>(rc.pool_size));
  return open_sqlite_store(rc.sqlite_path);
}
std::unique_ptr<VehicleWriter> open_writer(const config::RegistryConfig& rc) {
  if (rc.backend == "postgres") return open_postgres_writer(rc.dsn());
  return open_sqlite_writer(rc.sqlite_path);
}

}  // namespace lgsp::registries::vehicle
