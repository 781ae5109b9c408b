// The insurance registry in a SQLite file (the embedded default).
#include <chrono>
#include <cstdio>

#include "domain/dates.hpp"
#include "registries/backends/sqlite_commands.hpp"
#include "registries/backends/sqlite_rows.hpp"
#include "registries/insurance/store.hpp"
#include "util/random.hpp"

namespace lgsp::registries::insurance {
namespace {

namespace rows = sqlite_rows;
using sqlite::column_text;

/// Kept beside the registry by its commands: funeral allowances granted, with what the insured's
/// record was before the death ended it, so an undo restores it.
constexpr const char* kCommandSchema =
    "CREATE TABLE IF NOT EXISTS funeral_allowances (citizen_id TEXT PRIMARY KEY,"
    " allowance_reference TEXT NOT NULL, amount_vnd INTEGER NOT NULL,"
    " date_of_death TEXT NOT NULL, granted_on TEXT NOT NULL, previous_status TEXT NOT NULL,"
    " previous_coverage_end TEXT NOT NULL) WITHOUT ROWID;";

constexpr std::string_view kColumns =
    "social_insurance_number, health_insurance_card, citizen_id, status, coverage_start, "
    "coverage_end, hospital_province, hospital_facility_code, benefit_level";

domain::InsuranceRow read_insurance(sqlite3_stmt* s) {
  return {column_text(s, 0), column_text(s, 1), column_text(s, 2),
          column_text(s, 3), column_text(s, 4), column_text(s, 5),
          column_text(s, 6), column_text(s, 7), sqlite3_column_int(s, 8)};
}

/// The day before the sixth birthday of a child born on `dob` (YYYY-MM-DD, checked).
std::string last_day_under_six(std::string_view dob) {
  namespace chr = std::chrono;
  const auto d = *domain::parse_iso_date(dob);
  // The first of the month six years on, plus the day of the month: 29 February lands on
  // 1 March in a common year, as the law counts it.
  const chr::sys_days sixth =
      chr::sys_days{chr::year{d.year + 6} / d.month / 1} + chr::days{d.day - 1};
  const chr::year_month_day last{sixth - chr::days{1}};
  return domain::to_iso({static_cast<int>(last.year()), static_cast<int>(unsigned(last.month())),
                         static_cast<int>(unsigned(last.day()))});
}

std::string today() {
  const std::chrono::year_month_day t{
      std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now())};
  return domain::to_iso({static_cast<int>(t.year()), static_cast<int>(unsigned(t.month())),
                         static_cast<int>(unsigned(t.day()))});
}

std::optional<std::string> free_sin(sqlite3* db) {
  for (int attempt = 0; attempt < 64; ++attempt) {
    std::array<unsigned char, 8> r{};
    util::random_fill(r);
    std::uint64_t v = 0;
    for (const auto b : r) v = (v << 8U) | b;
    char sin[16];
    std::snprintf(sin, sizeof sin, "%010llu", static_cast<unsigned long long>(v % 10000000000ULL));
    if (!rows::exists(db, "SELECT 1 FROM insurance WHERE social_insurance_number = ?1", {sin}))
      return std::string(sin);
  }
  return std::nullopt;
}

CommandOutcome issue_child_card(sqlite3* db, const bus::v1::Request& c) {
  const auto& a = c.args();
  const std::string& citizen = a.at("citizen_id");
  const std::string until = last_day_under_six(a.at("date_of_birth"));
  if (until < today()) return {true, "the child is 6 or older: no child's card", {}, {}};
  if (rows::exists(db, "SELECT 1 FROM insurance WHERE citizen_id = ?1", {citizen}))
    return {true, "this citizen already has an insurance record", {}, {}};
  const auto sin = free_sin(db);
  if (!sin) return {true, "no free social insurance number", {}, {}};
  // TE: children under 6; benefit level 1; the province digits of the citizen ID.
  const std::string card = "TE1" + citizen.substr(1, 2) + *sin;
  rows::change_rows(db,
                    "INSERT INTO insurance (social_insurance_number, health_insurance_card,"
                    " citizen_id, status, coverage_start, coverage_end, hospital_province,"
                    " hospital_facility_code, benefit_level)"
                    " VALUES (?1, ?2, ?3, 'active', ?4, ?5, ?6, ?7, 1)",
                    {*sin, card, citizen, a.at("date_of_birth"), until, a.at("hospital_province"),
                     a.at("hospital_facility_code")});
  return {false,
          {},
          R"({"social_insurance_number":")" + *sin + R"(","health_insurance_card":")" + card +
              R"(","coverage_end":")" + until + R"("})",
          citizen};
}

/// The statutory base salary (lương cơ sở, VND a month) in force on `date` (YYYY-MM-DD), or 0
/// before the table starts. Government decrees 47/2016, 47/2017, 72/2018, 38/2019, 24/2023,
/// 73/2024.
std::int64_t base_salary_on(std::string_view date) {
  struct Step {
    std::string_view from;
    std::int64_t vnd;
  };
  static constexpr std::array<Step, 6> kSteps{{{"2016-05-01", 1'210'000},
                                               {"2017-07-01", 1'300'000},
                                               {"2018-07-01", 1'390'000},
                                               {"2019-07-01", 1'490'000},
                                               {"2023-07-01", 1'800'000},
                                               {"2024-07-01", 2'340'000}}};
  std::int64_t vnd = 0;
  for (const auto& step : kSteps) {
    if (date >= step.from) vnd = step.vnd;
  }
  return vnd;
}

/// Grants the funeral allowance of a deceased insured person (Law on Social Insurance, art.
/// 66: ten times the base salary of the month of death, to whoever arranges the funeral) and
/// ends their coverage on the date of death.
CommandOutcome grant_funeral_allowance(sqlite3* db, const bus::v1::Request& c) {
  const auto& a = c.args();
  const std::string& citizen = a.at("citizen_id");
  const std::string& died = a.at("date_of_death");
  auto row = rows::select(db, "substr(health_insurance_card, 1, 2), coverage_start", "insurance",
                          "citizen_id = ?1");
  sqlite::bind_text(row.get(), 1, citizen);
  if (sqlite3_step(row.get()) != SQLITE_ROW)
    return {true, "this citizen has no insurance record: no funeral allowance", {}, {}};
  const std::string group = column_text(row.get(), 0);
  // Compulsory social insurance: employees (DN), civil servants (HC), pensioners (HT).
  if (group != "DN" && group != "HC" && group != "HT")
    return {true,
            "the deceased's insurance (group " + group + ") carries no funeral allowance",
            {},
            {}};
  if (column_text(row.get(), 1) > died)
    return {true, "the date of death is before the insured's coverage started", {}, {}};
  if (rows::exists(db, "SELECT 1 FROM funeral_allowances WHERE citizen_id = ?1", {citizen}))
    return {true, "a funeral allowance was already granted for this citizen", {}, {}};
  const std::int64_t base = base_salary_on(died);
  if (base == 0) return {true, "no base salary on record for the date of death", {}, {}};
  const std::string amount = std::to_string(10 * base);
  // A reference of its own (it goes on paper and into other systems: not the citizen ID).
  std::array<unsigned char, 5> r{};
  util::random_fill(r);
  std::uint64_t serial = 0;
  for (const auto b : r) serial = (serial << 8U) | b;
  char digits[16];
  std::snprintf(digits, sizeof digits, "%010llu",
                static_cast<unsigned long long>(serial % 10000000000ULL));
  const std::string reference = "MT." + died.substr(0, 4) + "." + digits;
  rows::change_rows(db,
                    "INSERT INTO funeral_allowances SELECT citizen_id, ?2, CAST(?3 AS INTEGER), ?4,"
                    " ?5, status, coverage_end FROM insurance WHERE citizen_id = ?1",
                    {citizen, reference, amount, died, today()});
  rows::change_rows(db,
                    "UPDATE insurance SET status = 'ended', coverage_end = min(coverage_end, ?2)"
                    " WHERE citizen_id = ?1",
                    {citizen, died});
  return {false,
          {},
          R"({"allowance_reference":")" + reference + R"(","amount_vnd":")" + amount + R"("})",
          citizen};
}

class SqliteStore final : public InsuranceStore {
 public:
  explicit SqliteStore(const std::string& path)
      : db_(rows::open_registry(path, "insurance")),
        commands_("insurance", path, kCommandSchema),
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
  StoreResult<CommandOutcome> apply(const bus::v1::Request& command) override {
    return commands_.run(command, [&](sqlite3* db) -> CommandOutcome {
      const auto& name = command.command();
      if (name == "issue-child-card") return issue_child_card(db, command);
      if (name == "grant-funeral-allowance") return grant_funeral_allowance(db, command);
      // cancel-child-card: remove the card the undone command issued, if it did.
      if (name == "cancel-child-card") {
        return commands_.undo(db, command, "issue-child-card",
                              {"DELETE FROM insurance WHERE citizen_id = ?1"});
      }
      // revoke-funeral-allowance: the record as it was before the death, and no allowance.
      return commands_.undo(
          db, command, "grant-funeral-allowance",
          {"UPDATE insurance SET (status, coverage_end) = (SELECT previous_status,"
           " previous_coverage_end FROM funeral_allowances WHERE citizen_id = ?1)"
           " WHERE citizen_id = ?1",
           "DELETE FROM funeral_allowances WHERE citizen_id = ?1"});
    });
  }

 private:
  sqlite::Db db_;
  rows::SqliteCommands commands_;
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
