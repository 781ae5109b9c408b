#include "connectors/backends/postgres.hpp"

#include <pqxx/pqxx>

#include <stdexcept>
#include <tuple>

#include "observability/log.hpp"

namespace lgsp::connectors::postgres {
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

constexpr const char* kCitizenColumns =
    "citizen_id, full_name, date_of_birth, gender, place_of_origin, province, district, commune, "
    "id_card_issue_date, legacy_id_number";
constexpr const char* kInsuranceColumns =
    "social_insurance_number, health_insurance_card, citizen_id, status, coverage_start, "
    "coverage_end, "
    "hospital_province, hospital_facility_code, benefit_level";
constexpr const char* kVehicleColumns =
    "plate_number, owner_citizen_id, vehicle_type, brand, model, colour, engine_number, "
    "chassis_number, "
    "registration_date, status";

std::string text(const pqxx::row& r, int i) {
  return r[i].is_null() ? std::string{} : r[i].c_str();
}

domain::CitizenRecord read_citizen(const pqxx::row& r) {
  return {text(r, 0), text(r, 1), text(r, 2), text(r, 3), text(r, 4),
          text(r, 5), text(r, 6), text(r, 7), text(r, 8), text(r, 9)};
}
domain::InsuranceRow read_insurance(const pqxx::row& r) {
  return {text(r, 0), text(r, 1), text(r, 2), text(r, 3),    text(r, 4),
          text(r, 5), text(r, 6), text(r, 7), r[8].as<int>()};
}
domain::VehicleRow read_vehicle(const pqxx::row& r) {
  return {text(r, 0), text(r, 1), text(r, 2), text(r, 3), text(r, 4),
          text(r, 5), text(r, 6), text(r, 7), text(r, 8), text(r, 9)};
}

/// A text[] literal (`{"a","b"}`) for one array parameter: libpqxx 6 has no conversion for
/// containers. Quoted and escaped, so any text survives; it is a value, never SQL.
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

/// Prepares "by_<key>" for each key column and "by_row" (samples) on a table.
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

/// Runs a prepared statement with one text argument on a pooled connection.
template <class Row, class Read>
StoreResult<std::vector<Row>> query(Pool& pool, const char* statement, std::string_view key,
                                    Read read) {
  auto lease = pool.acquire();
  try {
    pqxx::nontransaction tx(*lease);
    const pqxx::result r = tx.exec_prepared(statement, std::string(key));
    std::vector<Row> rows;
    rows.reserve(r.size());
    for (const auto& row : r) rows.push_back(read(row));
    return rows;
  } catch (const pqxx::broken_connection& e) {
    lease.invalidate();
    obs::error("postgres_connection_lost", {{"statement", statement}, {"error", e.what()}});
    return lost();
  } catch (const std::exception& e) {
    obs::error("postgres_query_failed", {{"statement", statement}, {"error", e.what()}});
    return failed();
  }
}

template <class Row, class Read>
StoreResult<std::optional<Row>> query_one(Pool& pool, const char* statement, std::string_view key,
                                          Read read) {
  auto rows = query<Row>(pool, statement, key, read);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<Row>{};
  return std::optional<Row>(std::move(rows->front()));
}

template <class Row, class Read>
std::vector<Row> spread(Pool& pool, std::int64_t n, Read read) {
  std::vector<Row> out;
  auto lease = pool.acquire();
  pqxx::nontransaction tx(*lease);
  const auto total = tx.exec_prepared("max_row")[0][0].as<std::int64_t>();
  if (total == 0 || n <= 0) return out;
  const std::int64_t step = std::max<std::int64_t>(1, total / n);
  for (std::int64_t i = 0; i < n && i * step < total; ++i) {
    const auto r = tx.exec_prepared("by_row", 1 + i * step);
    if (!r.empty()) out.push_back(read(r[0]));
  }
  return out;
}

/// COPY-based bulk writer shared by the three registries.
template <class Row>
class Writer final : public RegistryWriter<Row> {
 public:
  using ToTuple = std::function<void(pqxx::stream_to&, const Row&)>;
  Writer(const std::string& dsn, std::string table, const char* create,
         const std::vector<std::string>& columns, std::string indexes, ToTuple to_tuple)
      : conn_(dsn),
        table_(std::move(table)),
        indexes_(std::move(indexes)),
        to_tuple_(std::move(to_tuple)) {
    // Outside the load transaction: several writers run at once (one per registry), and an
    // uncommitted CREATE of this shared table would block the others until the first commits.
    pqxx::nontransaction(conn_).exec(
        "CREATE TABLE IF NOT EXISTS registry_meta (registry TEXT NOT NULL, key TEXT NOT NULL,"
        " value TEXT NOT NULL, PRIMARY KEY (registry, key))");
    tx_ = std::make_unique<pqxx::work>(conn_);
    tx_->exec("DROP TABLE IF EXISTS " + table_);
    tx_->exec(create);
    stream_ = std::make_unique<pqxx::stream_to>(*tx_, table_, columns);
  }
  void add(const Row& row) override { to_tuple_(*stream_, row); }
  void finish(const Meta& meta) override {
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

 private:
  pqxx::connection conn_;
  std::string table_;
  std::string indexes_;
  ToTuple to_tuple_;
  std::unique_ptr<pqxx::work> tx_;
  std::unique_ptr<pqxx::stream_to> stream_;
};

}  // namespace

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

PopulationStore::PopulationStore(const std::string& dsn, std::size_t pool_size)
    : pool_(dsn, pool_size,
            prepare(kCitizenColumns, "citizens",
                    {{"by_id", "citizen_id = $1"},
                     {"by_legacy", "legacy_id_number = $1"},
                     {"by_ids", "citizen_id = ANY($1::text[])"}})) {}

StoreResult<std::optional<domain::CitizenRecord>> PopulationStore::find_citizen(
    std::string_view id) {
  return query_one<domain::CitizenRecord>(pool_, "by_id", id, read_citizen);
}
StoreResult<std::optional<domain::CitizenRecord>> PopulationStore::find_by_legacy_id(
    std::string_view id) {
  return query_one<domain::CitizenRecord>(pool_, "by_legacy", id, read_citizen);
}
StoreResult<std::vector<domain::CitizenRecord>> PopulationStore::find_citizens(
    const std::vector<std::string>& citizen_ids) {
  if (citizen_ids.empty()) return std::vector<domain::CitizenRecord>{};
  return query<domain::CitizenRecord>(pool_, "by_ids", text_array(citizen_ids), read_citizen);
}
std::vector<domain::CitizenRecord> PopulationStore::samples(std::int64_t n) {
  return spread<domain::CitizenRecord>(pool_, n, read_citizen);
}

InsuranceStore::InsuranceStore(const std::string& dsn, std::size_t pool_size)
    : pool_(dsn, pool_size,
            prepare(
                kInsuranceColumns, "insurance",
                {{"by_citizen", "citizen_id = $1"}, {"by_sin", "social_insurance_number = $1"}})) {}

StoreResult<std::optional<domain::InsuranceRow>> InsuranceStore::find_by_citizen(
    std::string_view id) {
  return query_one<domain::InsuranceRow>(pool_, "by_citizen", id, read_insurance);
}
StoreResult<std::optional<domain::InsuranceRow>> InsuranceStore::find_by_sin(std::string_view sin) {
  return query_one<domain::InsuranceRow>(pool_, "by_sin", sin, read_insurance);
}
std::vector<domain::InsuranceRow> InsuranceStore::samples(std::int64_t n) {
  return spread<domain::InsuranceRow>(pool_, n, read_insurance);
}

VehicleStore::VehicleStore(const std::string& dsn, std::size_t pool_size)
    : pool_(dsn, pool_size,
            prepare(kVehicleColumns, "vehicles",
                    {{"by_plate", "plate_number = $1"},
                     {"by_owner", "owner_citizen_id = $1 ORDER BY registration_date"}})) {}

StoreResult<std::optional<domain::VehicleRow>> VehicleStore::find_by_plate(std::string_view plate) {
  return query_one<domain::VehicleRow>(pool_, "by_plate", plate, read_vehicle);
}
StoreResult<std::vector<domain::VehicleRow>> VehicleStore::find_by_owner(std::string_view id) {
  return query<domain::VehicleRow>(pool_, "by_owner", id, read_vehicle);
}
std::vector<domain::VehicleRow> VehicleStore::samples(std::int64_t n) {
  return spread<domain::VehicleRow>(pool_, n, read_vehicle);
}

std::unique_ptr<PopulationWriter> population_writer(const std::string& dsn) {
  return std::make_unique<Writer<domain::CitizenRecord>>(
      dsn, "citizens",
      "CREATE TABLE citizens (row_id BIGSERIAL, citizen_id TEXT NOT NULL, full_name TEXT NOT NULL,"
      " date_of_birth TEXT NOT NULL, gender TEXT NOT NULL, place_of_origin TEXT NOT NULL,"
      " province TEXT NOT NULL, district TEXT NOT NULL, commune TEXT NOT NULL,"
      " id_card_issue_date TEXT NOT NULL, legacy_id_number TEXT)",
      std::vector<std::string>{"citizen_id", "full_name", "date_of_birth", "gender",
                               "place_of_origin", "province", "district", "commune",
                               "id_card_issue_date", "legacy_id_number"},
      "CREATE UNIQUE INDEX citizens_by_id ON citizens(citizen_id);"
      "CREATE UNIQUE INDEX citizens_by_legacy_id ON citizens(legacy_id_number) WHERE "
      "legacy_id_number IS NOT NULL;"
      "CREATE UNIQUE INDEX citizens_by_row ON citizens(row_id);",
      [](pqxx::stream_to& s, const domain::CitizenRecord& r) {
        const std::optional<std::string> legacy =
            r.legacy_id_number.empty() ? std::nullopt
                                       : std::optional<std::string>(r.legacy_id_number);
        s << std::make_tuple(r.citizen_id, r.full_name, r.date_of_birth, r.gender,
                             r.place_of_origin, r.province, r.district, r.commune,
                             r.id_card_issue_date, legacy);
      });
}

std::unique_ptr<InsuranceWriter> insurance_writer(const std::string& dsn) {
  return std::make_unique<Writer<domain::InsuranceRow>>(
      dsn, "insurance",
      "CREATE TABLE insurance (row_id BIGSERIAL, social_insurance_number TEXT NOT NULL,"
      " health_insurance_card TEXT NOT NULL, citizen_id TEXT NOT NULL, status TEXT NOT NULL,"
      " coverage_start TEXT NOT NULL, coverage_end TEXT NOT NULL, hospital_province TEXT NOT NULL,"
      " hospital_facility_code TEXT NOT NULL, benefit_level INTEGER NOT NULL)",
      std::vector<std::string>{"social_insurance_number", "health_insurance_card", "citizen_id",
                               "status", "coverage_start", "coverage_end", "hospital_province",
                               "hospital_facility_code", "benefit_level"},
      "CREATE UNIQUE INDEX insurance_by_sin ON insurance(social_insurance_number);"
      "CREATE UNIQUE INDEX insurance_by_citizen ON insurance(citizen_id);"
      "CREATE UNIQUE INDEX insurance_by_row ON insurance(row_id);",
      [](pqxx::stream_to& s, const domain::InsuranceRow& r) {
        s << std::make_tuple(r.social_insurance_number, r.health_insurance_card, r.citizen_id,
                             r.status, r.coverage_start, r.coverage_end, r.hospital_province,
                             r.hospital_facility_code, r.benefit_level);
      });
}

std::unique_ptr<VehicleWriter> vehicle_writer(const std::string& dsn) {
  return std::make_unique<Writer<domain::VehicleRow>>(
      dsn, "vehicles",
      "CREATE TABLE vehicles (row_id BIGSERIAL, plate_number TEXT NOT NULL, owner_citizen_id TEXT "
      "NOT NULL,"
      " vehicle_type TEXT NOT NULL, brand TEXT NOT NULL, model TEXT NOT NULL, colour TEXT NOT NULL,"
      " engine_number TEXT NOT NULL, chassis_number TEXT NOT NULL, registration_date TEXT NOT NULL,"
      " status TEXT NOT NULL)",
      std::vector<std::string>{"plate_number", "owner_citizen_id", "vehicle_type", "brand", "model",
                               "colour", "engine_number", "chassis_number", "registration_date",
                               "status"},
      "CREATE UNIQUE INDEX vehicles_by_plate ON vehicles(plate_number);"
      "CREATE INDEX vehicles_by_owner ON vehicles(owner_citizen_id);"
      "CREATE UNIQUE INDEX vehicles_by_row ON vehicles(row_id);",
      [](pqxx::stream_to& s, const domain::VehicleRow& r) {
        s << std::make_tuple(r.plate_number, r.owner_citizen_id, r.vehicle_type, r.brand, r.model,
                             r.colour, r.engine_number, r.chassis_number, r.registration_date,
                             r.status);
      });
}

}  // namespace lgsp::connectors::postgres
