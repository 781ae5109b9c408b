// The population registry in PostgreSQL (real deployments): the same table and columns as
// the SQLite file, read with prepared statements through a pool.
#include <tuple>

#include "registries/backends/postgres.hpp"
#include "registries/population/store.hpp"

namespace lgsp::registries::population {
namespace {

using postgres::text;

constexpr const char* kColumns =
    "citizen_id, full_name, date_of_birth, gender, place_of_origin, province, district, commune, "
    "id_card_issue_date, legacy_id_number";

domain::CitizenRecord read_citizen(const pqxx::row& r) {
  return {text(r, 0), text(r, 1), text(r, 2), text(r, 3), text(r, 4),
          text(r, 5), text(r, 6), text(r, 7), text(r, 8), text(r, 9)};
}

class PostgresStore final : public PopulationStore {
 public:
  PostgresStore(const std::string& dsn, std::size_t pool_size)
      : pool_(dsn, pool_size,
              postgres::prepare(kColumns, "citizens",
                                {{"by_id", "citizen_id = $1"},
                                 {"by_legacy", "legacy_id_number = $1"},
                                 {"by_ids", "citizen_id = ANY($1::text[])"}})) {}

  StoreResult<std::optional<domain::CitizenRecord>> find_citizen(std::string_view id) override {
    return postgres::query_one<domain::CitizenRecord>(pool_, "by_id", id, read_citizen);
  }
  StoreResult<std::optional<domain::CitizenRecord>> find_by_legacy_id(
      std::string_view id) override {
    return postgres::query_one<domain::CitizenRecord>(pool_, "by_legacy", id, read_citizen);
  }
  /// One prepared `citizen_id = ANY($1::text[])`, the IDs passed as one array parameter.
  StoreResult<std::vector<domain::CitizenRecord>> find_citizens(
      const std::vector<std::string>& citizen_ids) override {
    if (citizen_ids.empty()) return std::vector<domain::CitizenRecord>{};
    return postgres::query<domain::CitizenRecord>(pool_, "by_ids",
                                                  postgres::text_array(citizen_ids), read_citizen);
  }
  std::vector<domain::CitizenRecord> samples(std::int64_t n) override {
    return postgres::spread<domain::CitizenRecord>(pool_, n, read_citizen);
  }

 private:
  postgres::Pool pool_;
};

class PostgresWriter final : public PopulationWriter {
 public:
  explicit PostgresWriter(const std::string& dsn)
      : load_(dsn, "citizens",
              "CREATE TABLE citizens (row_id BIGSERIAL, citizen_id TEXT NOT NULL,"
              " full_name TEXT NOT NULL, date_of_birth TEXT NOT NULL, gender TEXT NOT NULL,"
              " place_of_origin TEXT NOT NULL, province TEXT NOT NULL, district TEXT NOT NULL,"
              " commune TEXT NOT NULL, id_card_issue_date TEXT NOT NULL, legacy_id_number TEXT)",
              {"citizen_id", "full_name", "date_of_birth", "gender", "place_of_origin", "province",
               "district", "commune", "id_card_issue_date", "legacy_id_number"},
              "CREATE UNIQUE INDEX citizens_by_id ON citizens(citizen_id);"
              "CREATE UNIQUE INDEX citizens_by_legacy_id ON citizens(legacy_id_number) WHERE "
              "legacy_id_number IS NOT NULL;"
              "CREATE UNIQUE INDEX citizens_by_row ON citizens(row_id);") {}
  void add(const domain::CitizenRecord& r) override {
    const std::optional<std::string> legacy =
        r.legacy_id_number.empty() ? std::nullopt : std::optional<std::string>(r.legacy_id_number);
    load_.stream() << std::make_tuple(r.citizen_id, r.full_name, r.date_of_birth, r.gender,
                                      r.place_of_origin, r.province, r.district, r.commune,
                                      r.id_card_issue_date, legacy);
  }
  void finish(const Meta& meta) override { load_.finish(meta); }

 private:
  postgres::TableLoader load_;
};

}  // namespace

std::unique_ptr<PopulationStore> open_postgres_store(const std::string& dsn, std::size_t pool) {
  return std::make_unique<PostgresStore>(dsn, pool);
}
std::unique_ptr<PopulationWriter> open_postgres_writer(const std::string& dsn) {
  return std::make_unique<PostgresWriter>(dsn);
}

}  // namespace lgsp::registries::population
