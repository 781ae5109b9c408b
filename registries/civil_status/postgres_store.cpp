// The civil-status registry in PostgreSQL (real deployments).
#include <tuple>

#include "registries/backends/postgres.hpp"
#include "registries/civil_status/store.hpp"

namespace lgsp::registries::civil_status {
namespace {

using postgres::text;

constexpr const char* kColumns =
    "registration_number, kind, citizen_id, spouse_citizen_id, event_date, "
    "place_of_registration, registered_on, status";

CivilEvent read_event(const pqxx::row& r) {
  return {text(r, 0), text(r, 1), text(r, 2), text(r, 3),
          text(r, 4), text(r, 5), text(r, 6), text(r, 7)};
}

class PostgresStore final : public CivilStatusStore {
 public:
  PostgresStore(const std::string& dsn, std::size_t pool_size)
      : pool_(dsn, pool_size,
              postgres::prepare(
                  kColumns, "civil_events",
                  {{"by_citizen", "citizen_id = $1 ORDER BY event_date, registration_number"}})) {}
  StoreResult<std::vector<CivilEvent>> find_by_citizen(std::string_view id) override {
    return postgres::query<CivilEvent>(pool_, "by_citizen", std::string(id), read_event);
  }
  std::vector<CivilEvent> samples(std::int64_t n) override {
    return postgres::spread<CivilEvent>(pool_, n, read_event);
  }

 private:
  postgres::Pool pool_;
};

class PostgresWriter final : public CivilStatusWriter {
 public:
  explicit PostgresWriter(const std::string& dsn)
      : load_(dsn, "civil_events",
              "CREATE TABLE civil_events (row_id BIGSERIAL, registration_number TEXT NOT NULL,"
              " kind TEXT NOT NULL, citizen_id TEXT NOT NULL, spouse_citizen_id TEXT NOT NULL,"
              " event_date TEXT NOT NULL, place_of_registration TEXT NOT NULL,"
              " registered_on TEXT NOT NULL, status TEXT NOT NULL)",
              {"registration_number", "kind", "citizen_id", "spouse_citizen_id", "event_date",
               "place_of_registration", "registered_on", "status"},
              "CREATE INDEX civil_events_by_citizen ON civil_events(citizen_id, event_date);"
              "CREATE UNIQUE INDEX civil_events_by_row ON civil_events(row_id);") {}
  void add(const CivilEvent& r) override {
    load_.stream() << std::make_tuple(r.registration_number, r.kind, r.citizen_id,
                                      r.spouse_citizen_id, r.event_date, r.place_of_registration,
                                      r.registered_on, r.status);
  }
  void finish(const Meta& meta) override { load_.finish(meta); }

 private:
  postgres::TableLoader load_;
};

}  // namespace

std::unique_ptr<CivilStatusStore> open_postgres_store(const std::string& dsn, std::size_t pool) {
  return std::make_unique<PostgresStore>(dsn, pool);
}
std::unique_ptr<CivilStatusWriter> open_postgres_writer(const std::string& dsn) {
  return std::make_unique<PostgresWriter>(dsn);
}

}  // namespace lgsp::registries::civil_status
