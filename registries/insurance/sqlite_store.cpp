// The insurance registry in a SQLite file (the embedded default).
#include "registries/backends/sqlite_rows.hpp"
#include "registries/insurance/store.hpp"

namespace lgsp::registries::insurance {
namespace {

namespace rows = sqlite_rows;
using sqlite::column_text;

constexpr std::string_view kColumns =
    "social_insurance_number, health_insurance_card, citizen_id, status, coverage_start, "
    "coverage_end, hospital_province, hospital_facility_code, benefit_level";

domain::InsuranceRow read_insurance(sqlite3_stmt* s) {
  return {column_text(s, 0), column_text(s, 1), column_text(s, 2),
          column_text(s, 3), column_text(s, 4), column_text(s, 5),
          column_text(s, 6), column_text(s, 7), sqlite3_column_int(s, 8)};
}

class SqliteStore final : public InsuranceStore {
 public:
  explicit SqliteStore(const std::string& path)
      : db_(rows::open_registry(path, "insurance")),
        by_citizen_(rows::select(db_.get(), kColumns, "insurance", "citizen_id = ?1")),
        by_sin_(rows::select(db_.get(), kColumns, "insurance", "social_insurance_number = ?1")) {}

  StoreResult<std::optional<domain::InsuranceRow>> find_by_citizen(std::string_view id) override {
    return rows::query_one<domain::InsuranceRow>(by_citizen_.get(), id, read_insurance);
  }
  StoreResult<std::optional<domain::InsuranceRow>> find_by_sin(std::string_view sin) override {
    return rows::query_one<domain::InsuranceRow>(by_sin_.get(), sin, read_insurance);
  }
  std::vector<domain::InsuranceRow> samples(std::int64_t n) override {
    return rows::spread<domain::InsuranceRow>(db_.get(), kColumns, "insurance", n, read_insurance);
  }

 private:
  sqlite::Db db_;
  sqlite::Stmt by_citizen_;
  sqlite::Stmt by_sin_;
};

class SqliteWriter final : public InsuranceWriter {
 public:
  explicit SqliteWriter(std::string path)
      : w_(std::move(path),
           "CREATE TABLE insurance (social_insurance_number TEXT NOT NULL,"
           " health_insurance_card TEXT NOT NULL, citizen_id TEXT NOT NULL, status TEXT NOT NULL,"
           " coverage_start TEXT NOT NULL, coverage_end TEXT NOT NULL,"
           " hospital_province TEXT NOT NULL, hospital_facility_code TEXT NOT NULL,"
           " benefit_level INTEGER NOT NULL);",
           "INSERT INTO insurance VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)") {}
  void add(const domain::InsuranceRow& r) override {
    rows::bind_all(w_.insert(), {r.social_insurance_number, r.health_insurance_card, r.citizen_id,
                                 r.status, r.coverage_start, r.coverage_end, r.hospital_province,
                                 r.hospital_facility_code});
    sqlite3_bind_int(w_.insert(), 9, r.benefit_level);
    w_.step_insert();
  }
  void finish(const Meta& meta) override {
    w_.finish(
        "CREATE UNIQUE INDEX insurance_by_sin ON insurance(social_insurance_number);"
        "CREATE UNIQUE INDEX insurance_by_citizen ON insurance(citizen_id);",
        meta);
  }

 private:
  sqlite::BulkWriter w_;
};

}  // namespace

std::unique_ptr<InsuranceStore> open_sqlite_store(const std::string& path) {
  return std::make_unique<SqliteStore>(path);
}
std::unique_ptr<InsuranceWriter> open_sqlite_writer(const std::string& path) {
  return std::make_unique<SqliteWriter>(path);
}

std::unique_ptr<InsuranceStore> open_store(const config::RegistryConfig& rc) {
  if (rc.backend == "postgres")
    return open_postgres_store(rc.dsn(), static_cast<std::size_t>(rc.pool_size));
  return open_sqlite_store(rc.sqlite_path);
}
std::unique_ptr<InsuranceWriter> open_writer(const config::RegistryConfig& rc) {
  if (rc.backend == "postgres") return open_postgres_writer(rc.dsn());
  return open_sqlite_writer(rc.sqlite_path);
}

}  // namespace lgsp::registries::insurance
