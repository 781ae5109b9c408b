#include "registries/population/sqlite_store.hpp"

#include <algorithm>

#include "domain/citizen_id.hpp"
#include "registries/backends/sqlite_rows.hpp"
#include "util/random.hpp"

namespace lgsp::registries::population {
namespace {

namespace rows = sqlite_rows;

constexpr std::string_view kCitizenColumns =
    "citizen_id, full_name, date_of_birth, gender, place_of_origin, province, district, commune, "
    "id_card_issue_date, legacy_id_number";
using sqlite::column_text;

/// Kept beside the registry by its commands: a permanent residence deregistered (on a death),
/// with the residence it was, so the registry's history keeps it and an undo restores it.
constexpr const char* kCommandSchema =
    "CREATE TABLE IF NOT EXISTS residence_deregistrations (citizen_id TEXT PRIMARY KEY,"
    " reason TEXT NOT NULL, effective_date TEXT NOT NULL, province TEXT NOT NULL,"
    " district TEXT NOT NULL, commune TEXT NOT NULL) WITHOUT ROWID;";

domain::CitizenRecord read_citizen(sqlite3_stmt* s) {
  return {column_text(s, 0), column_text(s, 1), column_text(s, 2), column_text(s, 3),
          column_text(s, 4), column_text(s, 5), column_text(s, 6), column_text(s, 7),
          column_text(s, 8), column_text(s, 9)};
}

}  // namespace

SqlitePopulationStore::SqlitePopulationStore(const std::string& path)
    : db_(rows::open_registry(path, "population")),
      commands_("population", path, kCommandSchema),
      by_id_(rows::select(db_.get(), kCitizenColumns, "citizens", "citizen_id = ?1")),
      by_legacy_(rows::select(db_.get(), kCitizenColumns, "citizens", "legacy_id_number = ?1")) {}

StoreResult<std::optional<domain::CitizenRecord>> SqlitePopulationStore::find_citizen(
    std::string_view id) {
  return rows::query_one<domain::CitizenRecord>(by_id_.get(), id, read_citizen);
}

StoreResult<std::optional<domain::CitizenRecord>> SqlitePopulationStore::find_by_legacy_id(
    std::string_view id) {
  return rows::query_one<domain::CitizenRecord>(by_legacy_.get(), id, read_citizen);
}

StoreResult<std::vector<domain::CitizenRecord>> SqlitePopulationStore::find_citizens(
    const std::vector<std::string>& citizen_ids) {
  // Each ID once: a repeated one would be looked up twice when it falls in two slices.
  std::vector<std::string_view> ids(citizen_ids.begin(), citizen_ids.end());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<domain::CitizenRecord> found;
  found.reserve(ids.size());
  constexpr std::size_t kMax = kIdListSizes.back();
  for (std::size_t from = 0; from < ids.size(); from += kMax) {
    const std::size_t n = std::min(kMax, ids.size() - from);
    const auto size = static_cast<std::size_t>(
        std::lower_bound(kIdListSizes.begin(), kIdListSizes.end(), n) - kIdListSizes.begin());
    sqlite::Stmt& stmt = by_ids_.at(size);
    if (!stmt) {
      std::string list = "?";
      for (std::size_t i = 1; i < kIdListSizes.at(size); ++i) list += ",?";
      stmt = rows::select(db_.get(), kCitizenColumns, "citizens", "citizen_id IN (" + list + ")");
    }
    // The unused places repeat the last ID: IN ignores the repeats, and one statement per
    // size serves every list up to it.
    for (std::size_t i = 0; i < kIdListSizes.at(size); ++i) {
      sqlite::bind_text(stmt.get(), static_cast<int>(i + 1), ids[from + std::min(i, n - 1)]);
    }
    if (const auto ec = rows::read_all(stmt.get(), read_citizen, found)) return ec;
  }
  return found;
}

std::vector<domain::CitizenRecord> SqlitePopulationStore::samples(std::int64_t n) {
  return rows::spread<domain::CitizenRecord>(db_.get(), kCitizenColumns, "citizens", n,
                                             read_citizen);
}

namespace {

/// A free citizen ID for a newborn: the province of birth, gender and year decide the first
/// six digits; the serial is random, drawn again while the ID is taken.
std::optional<std::string> free_citizen_id(sqlite3* db, const bus::v1::Request& c) {
  const auto& args = c.args();
  const auto gender = domain::parse_gender(args.at("gender"));
  const int year = std::stoi(args.at("date_of_birth").substr(0, 4));
  for (int attempt = 0; attempt < 64; ++attempt) {
    std::array<unsigned char, 4> r{};
    util::random_fill(r);
    const unsigned serial =
        (unsigned{r[0]} << 24U) | (unsigned{r[1]} << 16U) | (unsigned{r[2]} << 8U) | unsigned{r[3]};
    auto id = domain::make_citizen_id(args.at("birth_province_code"),
                                      gender.value_or(domain::Gender::kMale), year, serial);
    if (!rows::exists(db, "SELECT 1 FROM citizens WHERE citizen_id = ?1", {id})) return id;
  }
  return std::nullopt;
}

CommandOutcome register_newborn(sqlite3* db, const bus::v1::Request& c) {
  const auto id = free_citizen_id(db, c);
  if (!id) return {true, "no free citizen ID for this province, gender and year", {}, {}};
  const auto& a = c.args();
  rows::change_rows(db,
                    "INSERT INTO citizens (citizen_id, full_name, date_of_birth, gender,"
                    " place_of_origin, province, district, commune, id_card_issue_date,"
                    " legacy_id_number) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, '', NULL)",
                    {*id, a.at("full_name"), a.at("date_of_birth"), a.at("gender"),
                     a.at("place_of_origin"), a.at("province"), a.at("district"), a.at("commune")});
  return {false, {}, R"({"citizen_id":")" + *id + R"("})", *id};
}

/// Deregisters a deceased citizen's permanent residence: the residence moves to
/// residence_deregistrations and the citizen is left with none.
CommandOutcome deregister_residence(sqlite3* db, const bus::v1::Request& c) {
  const auto& a = c.args();
  const std::string& citizen = a.at("citizen_id");
  const std::string& died = a.at("date_of_death");
  if (!rows::exists(db, "SELECT 1 FROM citizens WHERE citizen_id = ?1", {citizen}))
    return {true, "the registry holds no citizen with this ID", {}, {}};
  if (rows::exists(db, "SELECT 1 FROM residence_deregistrations WHERE citizen_id = ?1", {citizen}))
    return {true, "this citizen's permanent residence is already deregistered", {}, {}};
  if (rows::exists(db, "SELECT 1 FROM citizens WHERE citizen_id = ?1 AND date_of_birth > ?2",
                   {citizen, died}))
    return {true, "the date of death is before the citizen's date of birth", {}, {}};
  rows::change_rows(db,
                    "INSERT INTO residence_deregistrations SELECT citizen_id, 'death', ?2,"
                    " province, district, commune FROM citizens WHERE citizen_id = ?1",
                    {citizen, died});
  rows::change_rows(db,
                    "UPDATE citizens SET province = '', district = '', commune = ''"
                    " WHERE citizen_id = ?1",
                    {citizen});
  return {false, {}, R"({"deregistered_on":")" + died + R"("})", citizen};
}

}  // namespace

StoreResult<CommandOutcome> SqlitePopulationStore::apply(const bus::v1::Request& command) {
  return commands_.run(command, [&](sqlite3* db) -> CommandOutcome {
    const auto& name = command.command();
    if (name == "register-newborn") return register_newborn(db, command);
    if (name == "deregister-residence") return deregister_residence(db, command);
    // void-newborn: remove the citizen the undone command recorded, if it did.
    if (name == "void-newborn") {
      return commands_.undo(db, command, "register-newborn",
                            {"DELETE FROM citizens WHERE citizen_id = ?1"});
    }
    // restore-residence: the residence the undone deregistration kept, back in place.
    return commands_.undo(
        db, command, "deregister-residence",
        {"UPDATE citizens SET (province, district, commune) = (SELECT province, district, commune"
         " FROM residence_deregistrations WHERE citizen_id = ?1) WHERE citizen_id = ?1",
         "DELETE FROM residence_deregistrations WHERE citizen_id = ?1"});
  });
}

SqlitePopulationWriter::SqlitePopulationWriter(std::string path)
    : w_(std::move(path),
         "CREATE TABLE citizens (citizen_id TEXT NOT NULL, full_name TEXT NOT NULL,"
         " date_of_birth TEXT NOT NULL, gender TEXT NOT NULL, place_of_origin TEXT NOT NULL,"
         " province TEXT NOT NULL, district TEXT NOT NULL, commune TEXT NOT NULL,"
         " id_card_issue_date TEXT NOT NULL, legacy_id_number TEXT);",
         "INSERT INTO citizens VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)") {}

void SqlitePopulationWriter::add(const domain::CitizenRecord& r) {
  rows::bind_all(w_.insert(),
                 {r.citizen_id, r.full_name, r.date_of_birth, r.gender, r.place_of_origin,
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

std::unique_ptr<PopulationStore> open_store(const config::RegistryConfig& rc) {
  if (rc.backend == "upstream") return open_upstream_store(rc.upstream);
  if (rc.backend == "postgres")
    return open_postgres_store(rc.dsn(), static_cast<std::size_t>(rc.pool_size));
  return std::make_unique<SqlitePopulationStore>(rc.sqlite_path);
}

std::unique_ptr<PopulationWriter> open_writer(const config::RegistryConfig& rc) {
  if (rc.backend == "upstream")
    throw std::runtime_error("the population registry is served by an upstream system: not seeded");
  if (rc.backend == "postgres") return open_postgres_writer(rc.dsn());
  return std::make_unique<SqlitePopulationWriter>(rc.sqlite_path);
}

}  // namespace lgsp::registries::population
