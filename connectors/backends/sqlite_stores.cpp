#include "connectors/backends/sqlite_stores.hpp"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

namespace lgsp::connectors {
namespace {

constexpr std::string_view kCitizenColumns =
    "citizen_id, full_name, date_of_birth, gender, place_of_origin, province, district, commune, "
    "id_card_issue_date, legacy_id_number";
constexpr std::string_view kInsuranceColumns =
    "social_insurance_number, health_insurance_card, citizen_id, status, coverage_start, "
    "coverage_end, hospital_province, hospital_facility_code, benefit_level";
constexpr std::string_view kVehicleColumns =
    "plate_number, owner_citizen_id, vehicle_type, brand, model, colour, engine_number, "
    "chassis_number, registration_date, status";

using sqlite::column_text;

domain::CitizenRecord read_citizen(sqlite3_stmt* s) {
  return {column_text(s, 0), column_text(s, 1), column_text(s, 2), column_text(s, 3),
          column_text(s, 4), column_text(s, 5), column_text(s, 6), column_text(s, 7),
          column_text(s, 8), column_text(s, 9)};
}

domain::InsuranceRow read_insurance(sqlite3_stmt* s) {
  return {column_text(s, 0), column_text(s, 1), column_text(s, 2),
          column_text(s, 3), column_text(s, 4), column_text(s, 5),
          column_text(s, 6), column_text(s, 7), sqlite3_column_int(s, 8)};
}

domain::VehicleRow read_vehicle(sqlite3_stmt* s) {
  return {column_text(s, 0), column_text(s, 1), column_text(s, 2), column_text(s, 3),
          column_text(s, 4), column_text(s, 5), column_text(s, 6), column_text(s, 7),
          column_text(s, 8), column_text(s, 9)};
}

sqlite::Db open_registry(const std::string& path, const char* what) {
  if (!std::filesystem::exists(path)) {
    throw std::runtime_error(std::string(what) + " registry " + path +
                             " does not exist; create it with `lgsp seed --config <file>`");
  }
  auto db = sqlite::open(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
  sqlite::exec(db.get(), "PRAGMA mmap_size=1073741824; PRAGMA query_only=1;");
  return db;
}

sqlite::Stmt select(sqlite3* db, std::string_view columns, std::string_view table,
                    std::string_view where) {
  return sqlite::prepare(db, "SELECT " + std::string(columns) + " FROM " + std::string(table) +
                                 " WHERE " + std::string(where));
}

/// Steps a bound statement to its end, appending every row to `rows`, and resets it.
template <class Row, class Read>
boost::system::error_code read_all(sqlite3_stmt* s, Read read, std::vector<Row>& rows) {
  int rc = 0;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) rows.push_back(read(s));
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return {rc, sqlite::sqlite_category()};
  return {};
}

/// Runs a prepared one-parameter query and reads every row.
template <class Row, class Read>
StoreResult<std::vector<Row>> query(sqlite3_stmt* s, std::string_view key, Read read) {
  sqlite::bind_text(s, 1, key);
  std::vector<Row> rows;
  if (const auto ec = read_all(s, read, rows)) return ec;
  return rows;
}

template <class Row, class Read>
StoreResult<std::optional<Row>> query_one(sqlite3_stmt* s, std::string_view key, Read read) {
  auto rows = query<Row>(s, key, read);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<Row>{};
  return std::optional<Row>(std::move(rows->front()));
}

/// n rows spread evenly by rowid.
template <class Row, class Read>
std::vector<Row> spread(sqlite3* db, std::string_view columns, std::string_view table,
                        std::int64_t n, Read read) {
  std::vector<Row> out;
  auto count = sqlite::prepare(db, "SELECT max(rowid) FROM " + std::string(table));
  const std::int64_t total =
      sqlite3_step(count.get()) == SQLITE_ROW ? sqlite3_column_int64(count.get(), 0) : 0;
  if (total == 0 || n <= 0) return out;
  auto s = select(db, columns, table, "rowid = ?1");
  const std::int64_t step = std::max<std::int64_t>(1, total / n);
  for (std::int64_t i = 0; i < n && i * step < total; ++i) {
    sqlite3_bind_int64(s.get(), 1, 1 + i * step);
    if (sqlite3_step(s.get()) == SQLITE_ROW) out.push_back(read(s.get()));
    sqlite3_reset(s.get());
  }
  return out;
}

void bind_all(sqlite3_stmt* s, std::initializer_list<std::string_view> values) {
  int i = 1;
  for (auto v : values) sqlite::bind_text(s, i++, v);
}

}  // namespace

SqlitePopulationStore::SqlitePopulationStore(const std::string& path)
    : db_(open_registry(path, "population")),
      by_id_(select(db_.get(), kCitizenColumns, "citizens", "citizen_id = ?1")),
      by_legacy_(select(db_.get(), kCitizenColumns, "citizens", "legacy_id_number = ?1")) {}

StoreResult<std::optional<domain::CitizenRecord>> SqlitePopulationStore::find_citizen(
    std::string_view id) {
  return query_one<domain::CitizenRecord>(by_id_.get(), id, read_citizen);
}

StoreResult<std::optional<domain::CitizenRecord>> SqlitePopulationStore::find_by_legacy_id(
    std::string_view id) {
  return query_one<domain::CitizenRecord>(by_legacy_.get(), id, read_citizen);
}

StoreResult<std::vector<domain::CitizenRecord>> SqlitePopulationStore::find_citizens(
    const std::vector<std::string>& citizen_ids) {
  // Each ID once: a repeated one would be looked up twice when it falls in two slices.
  std::vector<std::string_view> ids(citizen_ids.begin(), citizen_ids.end());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<domain::CitizenRecord> rows;
  rows.reserve(ids.size());
  constexpr std::size_t kMax = kIdListSizes.back();
  for (std::size_t from = 0; from < ids.size(); from += kMax) {
    const std::size_t n = std::min(kMax, ids.size() - from);
    const auto size = static_cast<std::size_t>(
        std::lower_bound(kIdListSizes.begin(), kIdListSizes.end(), n) - kIdListSizes.begin());
    sqlite::Stmt& stmt = by_ids_.at(size);
    if (!stmt) {
      std::string list = "?";
      for (std::size_t i = 1; i < kIdListSizes.at(size); ++i) list += ",?";
      stmt = select(db_.get(), kCitizenColumns, "citizens", "citizen_id IN (" + list + ")");
    }
    // The unused places repeat the last ID: IN ignores the repeats, and one statement per
    // size serves every list up to it.
    for (std::size_t i = 0; i < kIdListSizes.at(size); ++i) {
      sqlite::bind_text(stmt.get(), static_cast<int>(i + 1), ids[from + std::min(i, n - 1)]);
    }
    if (const auto ec = read_all(stmt.get(), read_citizen, rows)) return ec;
  }
  return rows;
}

std::vector<domain::CitizenRecord> SqlitePopulationStore::samples(std::int64_t n) {
  return spread<domain::CitizenRecord>(db_.get(), kCitizenColumns, "citizens", n, read_citizen);
}

SqliteInsuranceStore::SqliteInsuranceStore(const std::string& path)
    : db_(open_registry(path, "insurance")),
      by_citizen_(select(db_.get(), kInsuranceColumns, "insurance", "citizen_id = ?1")),
      by_sin_(select(db_.get(), kInsuranceColumns, "insurance", "social_insurance_number = ?1")) {}

StoreResult<std::optional<domain::InsuranceRow>> SqliteInsuranceStore::find_by_citizen(
    std::string_view id) {
  return query_one<domain::InsuranceRow>(by_citizen_.get(), id, read_insurance);
}

StoreResult<std::optional<domain::InsuranceRow>> SqliteInsuranceStore::find_by_sin(
    std::string_view sin) {
  return query_one<domain::InsuranceRow>(by_sin_.get(), sin, read_insurance);
}

std::vector<domain::InsuranceRow> SqliteInsuranceStore::samples(std::int64_t n) {
  return spread<domain::InsuranceRow>(db_.get(), kInsuranceColumns, "insurance", n, read_insurance);
}

SqliteVehicleStore::SqliteVehicleStore(const std::string& path)
    : db_(open_registry(path, "vehicle")),
      by_plate_(select(db_.get(), kVehicleColumns, "vehicles", "plate_number = ?1")),
      by_owner_(select(db_.get(), kVehicleColumns, "vehicles",
                       "owner_citizen_id = ?1 ORDER BY registration_date")) {}

StoreResult<std::optional<domain::VehicleRow>> SqliteVehicleStore::find_by_plate(
    std::string_view plate) {
  return query_one<domain::VehicleRow>(by_plate_.get(), plate, read_vehicle);
}

StoreResult<std::vector<domain::VehicleRow>> SqliteVehicleStore::find_by_owner(
    std::string_view id) {
  return query<domain::VehicleRow>(by_owner_.get(), id, read_vehicle);
}

std::vector<domain::VehicleRow> SqliteVehicleStore::samples(std::int64_t n) {
  return spread<domain::VehicleRow>(db_.get(), kVehicleColumns, "vehicles", n, read_vehicle);
}

SqlitePopulationWriter::SqlitePopulationWriter(std::string path)
    : w_(std::move(path),
         "CREATE TABLE citizens (citizen_id TEXT NOT NULL, full_name TEXT NOT NULL,"
         " date_of_birth TEXT NOT NULL, gender TEXT NOT NULL, place_of_origin TEXT NOT NULL,"
         " province TEXT NOT NULL, district TEXT NOT NULL, commune TEXT NOT NULL,"
         " id_card_issue_date TEXT NOT NULL, legacy_id_number TEXT);",
         "INSERT INTO citizens VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)") {}

void SqlitePopulationWriter::add(const domain::CitizenRecord& r) {
  bind_all(w_.insert(), {r.citizen_id, r.full_name, r.date_of_birth, r.gender, r.place_of_origin,
                         r.province, r.district, r.commune, r.id_card_issue_date});
  if (r.legacy_id_number.empty()) {
    sqlite3_bind_null(w_.insert(), 10);
  } else {
    sqlite::bind_text(w_.insert(), 10, r.legacy_id_number);
  }
  w_.step_insert();
}

void SqlitePopulationWriter::finish(const Meta& meta) {
  w_.finish(
      "CREATE UNIQUE INDEX citizens_by_id ON citizens(citizen_id);"
      "CREATE UNIQUE INDEX citizens_by_legacy_id ON citizens(legacy_id_number) WHERE "
      "legacy_id_number IS NOT NULL;",
      meta);
}

SqliteInsuranceWriter::SqliteInsuranceWriter(std::string path)
    : w_(std::move(path),
         "CREATE TABLE insurance (social_insurance_number TEXT NOT NULL, health_insurance_card "
         "TEXT NOT NULL,"
         " citizen_id TEXT NOT NULL, status TEXT NOT NULL, coverage_start TEXT NOT NULL,"
         " coverage_end TEXT NOT NULL, hospital_province TEXT NOT NULL,"
         " hospital_facility_code TEXT NOT NULL, benefit_level INTEGER NOT NULL);",
         "INSERT INTO insurance VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)") {}

void SqliteInsuranceWriter::add(const domain::InsuranceRow& r) {
  bind_all(w_.insert(),
           {r.social_insurance_number, r.health_insurance_card, r.citizen_id, r.status,
            r.coverage_start, r.coverage_end, r.hospital_province, r.hospital_facility_code});
  sqlite3_bind_int(w_.insert(), 9, r.benefit_level);
  w_.step_insert();
}

void SqliteInsuranceWriter::finish(const Meta& meta) {
  w_.finish(
      "CREATE UNIQUE INDEX insurance_by_sin ON insurance(social_insurance_number);"
      "CREATE UNIQUE INDEX insurance_by_citizen ON insurance(citizen_id);",
      meta);
}

SqliteVehicleWriter::SqliteVehicleWriter(std::string path)
    : w_(std::move(path),
         "CREATE TABLE vehicles (plate_number TEXT NOT NULL, owner_citizen_id TEXT NOT NULL,"
         " vehicle_type TEXT NOT NULL, brand TEXT NOT NULL, model TEXT NOT NULL, colour TEXT NOT "
         "NULL,"
         " engine_number TEXT NOT NULL, chassis_number TEXT NOT NULL, registration_date TEXT NOT "
         "NULL,"
         " status TEXT NOT NULL);",
         "INSERT INTO vehicles VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)") {}

void SqliteVehicleWriter::add(const domain::VehicleRow& r) {
  bind_all(w_.insert(),
           {r.plate_number, r.owner_citizen_id, r.vehicle_type, r.brand, r.model, r.colour,
            r.engine_number, r.chassis_number, r.registration_date, r.status});
  w_.step_insert();
}

void SqliteVehicleWriter::finish(const Meta& meta) {
  w_.finish(
      "CREATE UNIQUE INDEX vehicles_by_plate ON vehicles(plate_number);"
      "CREATE INDEX vehicles_by_owner ON vehicles(owner_citizen_id);",
      meta);
}

}  // namespace lgsp::connectors
