// The vehicle registry in PostgreSQL (real deployments).
#include <tuple>

#include "registries/backends/postgres.hpp"
#include "registries/vehicle/store.hpp"

namespace lgsp::registries::vehicle {
namespace {

using postgres::text;

constexpr const char* kColumns =
    "plate_number, owner_citizen_id, vehicle_type, brand, model, colour, engine_number, "
    "chassis_number, registration_date, status";

domain::VehicleRow read_vehicle(const pqxx::row& r) {
  return {text(r, 0), text(r, 1), text(r, 2), text(r, 3), text(r, 4),
          text(r, 5), text(r, 6), text(r, 7), text(r, 8), text(r, 9)};
}

class PostgresStore final : public VehicleStore {
 public:
  PostgresStore(const std::string& dsn, std::size_t pool_size)
      : pool_(
            dsn, pool_size,
            postgres::prepare(kColumns, "vehicles",
                              {{"by_plate", "plate_number = $1"},
                               {"by_owner", "owner_citizen_id = $1 ORDER BY registration_date"}})) {
  }
  StoreResult<std::optional<domain::VehicleRow>> find_by_plate(std::string_view plate) override {
    return postgres::query_one<domain::VehicleRow>(pool_, "by_plate", plate, read_vehicle);
  }
  StoreResult<std::vector<domain::VehicleRow>> find_by_owner(std::string_view id) override {
    return postgres::query<domain::VehicleRow>(pool_, "by_owner", std::string(id), read_vehicle);
  }
  std::vector<domain::VehicleRow> samples(std::int64_t n) override {
    return postgres::spread<domain::VehicleRow>(pool_, n, read_vehicle);
  }

 private:
  postgres::Pool pool_;
};

class PostgresWriter final : public VehicleWriter {
 public:
  explicit PostgresWriter(const std::string& dsn)
      : load_(dsn, "vehicles",
              "CREATE TABLE vehicles (row_id BIGSERIAL, plate_number TEXT NOT NULL,"
              " owner_citizen_id TEXT NOT NULL, vehicle_type TEXT NOT NULL, brand TEXT NOT NULL,"
              " model TEXT NOT NULL, colour TEXT NOT NULL, engine_number TEXT NOT NULL,"
              " chassis_number TEXT NOT NULL, registration_date TEXT NOT NULL,"
              " status TEXT NOT NULL)",
              {"plate_number", "owner_citizen_id", "vehicle_type", "brand", "model", "colour",
               "engine_number", "chassis_number", "registration_date", "status"},
              "CREATE UNIQUE INDEX vehicles_by_plate ON vehicles(plate_number);"
              "CREATE INDEX vehicles_by_owner ON vehicles(owner_citizen_id);"
              "CREATE UNIQUE INDEX vehicles_by_row ON vehicles(row_id);") {}
  void add(const domain::VehicleRow& r) override {
    load_.stream() << std::make_tuple(r.plate_number, r.owner_citizen_id, r.vehicle_type, r.brand,
                                      r.model, r.colour, r.engine_number, r.chassis_number,
                                      r.registration_date, r.status);
  }
  void finish(const Meta& meta) override { load_.finish(meta); }

 private:
  postgres::TableLoader load_;
};

}  // namespace

std::unique_ptr<VehicleStore> open_postgres_store(const std::string& dsn, std::size_t pool) {
  return std::make_unique<PostgresStore>(dsn, pool);
}
std::unique_ptr<VehicleWriter> open_postgres_writer(const std::string& dsn) {
  return std::make_unique<PostgresWriter>(dsn);
}

}  // namespace lgsp::registries::vehicle
