// The insurance registry in PostgreSQL (real deployments).
#include <tuple>

#include "registries/backends/postgres.hpp"
#include "registries/insurance/store.hpp"

namespace lgsp::registries::insurance {
namespace {

using postgres::text;

constexpr const char* kColumns =
    "social_insurance_number, health_insurance_card, citizen_id, status, coverage_start, "
    "coverage_end, hospital_province, hospital_facility_code, benefit_level";

domain::InsuranceRow read_insurance(const pqxx::row& r) {
  return {text(r, 0), text(r, 1), text(r, 2), text(r, 3),    text(r, 4),
          text(r, 5), text(r, 6), text(r, 7), r[8].as<int>()};
}

class PostgresStore final : public InsuranceStore {
 public:
  PostgresStore(const std::string& dsn, std::size_t pool_size)
      : pool_(dsn, pool_size,
              postgres::prepare(kColumns, "insurance",
                                {{"by_citizen", "citizen_id = $1"},
                                 {"by_sin", "social_insurance_number = $1"}})) {}
  StoreResult<std::optional<domain::InsuranceRow>> find_by_citizen(std::string_view id) override {
    return postgres::query_one<domain::InsuranceRow>(pool_, "by_citizen", id, read_insurance);
  }
  StoreResult<std::optional<domain::InsuranceRow>> find_by_sin(std::string_view sin) override {
    return postgres::query_one<domain::InsuranceRow>(pool_, "by_sin", sin, read_insurance);
  }
  std::vector<domain::InsuranceRow> samples(std::int64_t n) override {
    return postgres::spread<domain::InsuranceRow>(pool_, n, read_insurance);
  }

 private:
  postgres::Pool pool_;
};

class PostgresWriter final : public InsuranceWriter {
 public:
  explicit PostgresWriter(const std::string& dsn)
      : load_(dsn, "insurance",
              "CREATE TABLE insurance (row_id BIGSERIAL, social_insurance_number TEXT NOT NULL,"
              " health_insurance_card TEXT NOT NULL, citizen_id TEXT NOT NULL,"
              " status TEXT NOT NULL, coverage_start TEXT NOT NULL, coverage_end TEXT NOT NULL,"
              " hospital_province TEXT NOT NULL, hospital_facility_code TEXT NOT NULL,"
              " benefit_level INTEGER NOT NULL)",
              {"social_insurance_number", "health_insurance_card", "citizen_id", "status",
               "coverage_start", "coverage_end", "hospital_province", "hospital_facility_code",
               "benefit_level"},
              "CREATE UNIQUE INDEX insurance_by_sin ON insurance(social_insurance_number);"
              "CREATE UNIQUE INDEX insurance_by_citizen ON insurance(citizen_id);"
              "CREATE UNIQUE INDEX insurance_by_row ON insurance(row_id);") {}
  void add(const domain::InsuranceRow& r) override {
    load_.stream() << std::make_tuple(r.social_insurance_number, r.health_insurance_card,
                                      r.citizen_id, r.status, r.coverage_start, r.coverage_end,
                                      r.hospital_province, r.hospital_facility_code,
                                      r.benefit_level);
  }
  void finish(const Meta& meta) override { load_.finish(meta); }

 private:
  postgres::TableLoader load_;
};

}  // namespace

std::unique_ptr<InsuranceStore> open_postgres_store(const std::string& dsn, std::size_t pool) {
  return std::make_unique<PostgresStore>(dsn, pool);
}
std::unique_ptr<InsuranceWriter> open_postgres_writer(const std::string& dsn) {
  return std::make_unique<PostgresWriter>(dsn);
}

}  // namespace lgsp::registries::insurance
