// The civil-status registry in a SQLite file (the embedded default).
#include <cstdio>
#include <stdexcept>

#include "registries/backends/sqlite_commands.hpp"
#include "registries/backends/sqlite_rows.hpp"
#include "registries/civil_status/store.hpp"
#include "util/random.hpp"

namespace lgsp::registries::civil_status {
namespace {

namespace rows = sqlite_rows;
using sqlite::column_text;

constexpr std::string_view kColumns =
    "registration_number, kind, citizen_id, spouse_citizen_id, event_date, "
    "place_of_registration, registered_on, status";

CivilEvent read_event(sqlite3_stmt* s) {
  return {column_text(s, 0), column_text(s, 1), column_text(s, 2), column_text(s, 3),
          column_text(s, 4), column_text(s, 5), column_text(s, 6), column_text(s, 7)};
}

/// A free registration number: "<prefix>.<year>.<7 random digits>" ("" when none was found).
std::string free_registration_number(sqlite3* db, std::string_view prefix, std::string_view year) {
  for (int attempt = 0; attempt < 64; ++attempt) {
    std::array<unsigned char, 4> r{};
    util::random_fill(r);
    const unsigned serial = ((unsigned{r[0]} << 16U) | (unsigned{r[1]} << 8U) | r[2]) % 10000000U;
    char digits[8];
    std::snprintf(digits, sizeof digits, "%07u", serial);
    std::string candidate = std::string(prefix) + "." + std::string(year) + "." + digits;
    if (!rows::exists(db, "SELECT 1 FROM civil_events WHERE registration_number = ?1", {candidate}))
      return candidate;
  }
  return {};
}

/// Registers a citizen's birth or death (`kind`) on `date` at `place`, once per citizen.
CommandOutcome record_event(sqlite3* db, std::string_view kind, const std::string& citizen,
                            const std::string& date, const std::string& place) {
  if (rows::exists(db, "SELECT 1 FROM civil_events WHERE citizen_id = ?1 AND kind = ?2",
                   {citizen, kind}))
    return {true, "this citizen's " + std::string(kind) + " is already registered", {}, {}};
  if (kind == "death" &&
      rows::exists(db,
                   "SELECT 1 FROM civil_events WHERE citizen_id = ?1 AND kind = 'birth'"
                   " AND event_date > ?2",
                   {citizen, date}))
    return {true, "the date of death is before the registered date of birth", {}, {}};
  const std::string number = free_registration_number(db, kind == "birth" ? "KS" : "KT",
                                                      std::string_view(date).substr(0, 4));
  if (number.empty()) return {true, "no free registration number this year", {}, {}};
  rows::change_rows(db,
                    "INSERT INTO civil_events (registration_number, kind, citizen_id,"
                    " spouse_citizen_id, event_date, place_of_registration, registered_on,"
                    " status) VALUES (?1, ?5, ?2, '', ?3, ?4, date('now'), 'registered')",
                    {number, citizen, date, place, kind});
  return {false, {}, R"({"registration_number":")" + number + R"("})", citizen};
}

class SqliteStore final : public CivilStatusStore {
 public:
  explicit SqliteStore(const std::string& path)
      : db_(rows::open_registry(path, "civil-status")),
        commands_("civil-status", path),
        by_citizen_(rows::select(db_.get(), kColumns, "civil_events",
                                 "citizen_id = ?1 ORDER BY event_date, registration_number")) {}

  StoreResult<std::vector<CivilEvent>> find_by_citizen(std::string_view id) override {
    return rows::query<CivilEvent>(by_citizen_.get(), id, read_event);
  }
  std::vector<CivilEvent> samples(std::int64_t n) override {
    return rows::spread<CivilEvent>(db_.get(), kColumns, "civil_events", n, read_event);
  }
  StoreResult<CommandOutcome> apply(const bus::v1::Request& command) override {
    return commands_.run(command, [&](sqlite3* db) -> CommandOutcome {
      const auto& name = command.command();
      const auto& a = command.args();
      if (name == "record-birth") {
        return record_event(db, "birth", a.at("citizen_id"), a.at("date_of_birth"),
                            a.at("place_of_registration"));
      }
      if (name == "record-death") {
        return record_event(db, "death", a.at("citizen_id"), a.at("date_of_death"),
                            a.at("place_of_registration"));
      }
      // void-birth, void-death: remove the registration the undone command made, if it did.
      if (name == "void-birth") {
        return commands_.undo(
            db, command, "record-birth",
            {"DELETE FROM civil_events WHERE citizen_id = ?1 AND kind = 'birth'"});
      }
      return commands_.undo(db, command, "record-death",
                            {"DELETE FROM civil_events WHERE citizen_id = ?1 AND kind = 'death'"});
    });
  }

 private:
  sqlite::Db db_;
  rows::SqliteCommands commands_;
  sqlite::Stmt by_citizen_;
};

class SqliteWriter final : public CivilStatusWriter {
 public:
  explicit SqliteWriter(std::string path)
      : w_(std::move(path),
           "CREATE TABLE civil_events (registration_number TEXT NOT NULL, kind TEXT NOT NULL,"
           " citizen_id TEXT NOT NULL, spouse_citizen_id TEXT NOT NULL,"
           " event_date TEXT NOT NULL, place_of_registration TEXT NOT NULL,"
           " registered_on TEXT NOT NULL, status TEXT NOT NULL);",
           "INSERT INTO civil_events VALUES (?1,?2,?3,?4,?5,?6,?7,?8)") {}
  void add(const CivilEvent& r) override {
    rows::bind_all(w_.insert(), {r.registration_number, r.kind, r.citizen_id, r.spouse_citizen_id,
                                 r.event_date, r.place_of_registration, r.registered_on, r.status});
    w_.step_insert();
  }
  void finish(const Meta& meta) override {
    w_.finish("CREATE INDEX civil_events_by_citizen ON civil_events(citizen_id, event_date);",
              meta);
  }

 private:
  sqlite::BulkWriter w_;
};

}  // namespace

std::unique_ptr<CivilStatusStore> open_sqlite_store(const std::string& path) {
  return std::make_unique<SqliteStore>(path);
}
std::unique_ptr<CivilStatusWriter> open_sqlite_writer(const std::string& path) {
  return std::make_unique<SqliteWriter>(path);
}

std::unique_ptr<CivilStatusStore> open_store(const config::RegistryConfig& rc) {
  if (rc.backend == "upstream") return open_upstream_store(rc.upstream);
  if (rc.backend == "postgres")
    return open_postgres_store(rc.dsn(), static_cast<std::size_t>(rc.pool_size));
  return open_sqlite_store(rc.sqlite_path);
}
std::unique_ptr<CivilStatusWriter> open_writer(const config::RegistryConfig& rc) {
  if (rc.backend == "upstream")
    throw std::runtime_error(
        "the civil-status registry is served by an upstream system: not seeded");
  if (rc.backend == "postgres") return open_postgres_writer(rc.dsn());
  return open_sqlite_writer(rc.sqlite_path);
}

}  // namespace lgsp::registries::civil_status
