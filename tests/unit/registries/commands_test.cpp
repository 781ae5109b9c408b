// Registry commands on the SQLite backends: each applies once per command id however often it
// arrives, an undo removes exactly what its command added, arguments are checked with the
// argument named, and a registry's rules reject what it must not record.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <filesystem>
#include <map>

#include "registries/civil_status/service.hpp"
#include "registries/civil_status/store.hpp"
#include "registries/insurance/service.hpp"
#include "registries/insurance/store.hpp"
#include "registries/population/service.hpp"
#include "registries/population/sqlite_store.hpp"
#include "registries/table.hpp"
#include "seed/seeder.hpp"

namespace lgsp::registries {
namespace {

namespace v1 = bus::v1;
namespace fs = std::filesystem;

using Args = std::map<std::string, std::string>;

v1::Request command(std::string name, std::string id, const Args& args) {
  v1::Request r;
  r.set_request_id("req-" + id);
  r.set_operation(v1::OPERATION_COMMAND);
  r.set_command(std::move(name));
  r.set_command_id(std::move(id));
  for (const auto& [k, v] : args) (*r.mutable_args())[k] = v;
  return r;
}

std::string member(const v1::Reply& reply, const char* key) {
  return std::string(boost::json::parse(reply.answer_json()).as_object().at(key).as_string());
}

Args newborn() {
  return {{"full_name", "  Nguyễn   Thị An "},
          {"date_of_birth", "2026-11-30"},
          {"gender", "nữ"},
          {"birth_province_code", "001"},
          {"place_of_origin", "Nam Định"},
          {"province", "Hà Nội"},
          {"district", "Ba Đình"},
          {"commune", "Phúc Xá"}};
}

/// Three registries of 500 synthetic citizens, fresh for each test (commands change them).
class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lgsp-commands-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    seed::seed_registries(seed::sqlite_targets({{"population", path("population")},
                                                {"civil-status", path("civil")},
                                                {"insurance", path("insurance")}}),
                          500, 7);
    pop_store_ = std::make_unique<population::SqlitePopulationStore>(path("population"));
    pop_ = std::make_unique<population::PopulationService>(*pop_store_, [] { return 1; });
    civil_store_ = civil_status::open_sqlite_store(path("civil"));
    civil_ = std::make_unique<civil_status::CivilStatusService>(*civil_store_, [] { return 1; });
    ins_store_ = insurance::open_sqlite_store(path("insurance"));
    ins_ = std::make_unique<insurance::InsuranceService>(*ins_store_, [] { return 1; });
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / (name + ".db")).string(); }

  fs::path dir_;
  std::unique_ptr<population::SqlitePopulationStore> pop_store_;
  std::unique_ptr<population::PopulationService> pop_;
  std::unique_ptr<civil_status::CivilStatusStore> civil_store_;
  std::unique_ptr<civil_status::CivilStatusService> civil_;
  std::unique_ptr<insurance::InsuranceStore> ins_store_;
  std::unique_ptr<insurance::InsuranceService> ins_;
};

TEST_F(CommandsTest, ANewbornIsRegisteredOnceHoweverOftenTheCommandArrives) {
  const auto first = pop_->handle(command("register-newborn", "p1/citizen", newborn()));
  ASSERT_EQ(first.status(), v1::STATUS_OK) << first.detail();
  const std::string id = member(first, "citizen_id");
  EXPECT_EQ(id.substr(0, 6), "001326");  // Hà Nội, female born in the 2000s, year 26
  ASSERT_EQ(first.subject_citizen_ids_size(), 1);
  EXPECT_EQ(first.subject_citizen_ids(0), id);

  const auto again = pop_->handle(command("register-newborn", "p1/citizen", newborn()));
  ASSERT_EQ(again.status(), v1::STATUS_OK);
  EXPECT_EQ(member(again, "citizen_id"), id);  // the recorded outcome, not a second citizen

  const auto found = pop_store_->find_citizen(id);
  ASSERT_TRUE(found && found->has_value());
  EXPECT_EQ((*found)->full_name, "Nguyễn Thị An");  // tidied, case kept
  EXPECT_EQ((*found)->gender, "female");
  EXPECT_EQ((*found)->commune, "Phúc Xá");

  const auto other = pop_->handle(command("register-newborn", "p2/citizen", newborn()));
  ASSERT_EQ(other.status(), v1::STATUS_OK);
  EXPECT_NE(member(other, "citizen_id"), id);  // another procedure: another child (twins)
}

TEST_F(CommandsTest, AnUndoRemovesWhatItsCommandAddedAndARedeliveredCommandDoesNotReturn) {
  const auto done = pop_->handle(command("register-newborn", "p1/citizen", newborn()));
  const std::string id = member(done, "citizen_id");
  const auto undo = pop_->handle(command("void-newborn", "p1/citizen/undo", {}));
  ASSERT_EQ(undo.status(), v1::STATUS_OK) << undo.detail();
  EXPECT_FALSE(pop_store_->find_citizen(id)->has_value());

  // The original, redelivered late: its recorded outcome, and the citizen stays removed.
  const auto late = pop_->handle(command("register-newborn", "p1/citizen", newborn()));
  EXPECT_EQ(late.status(), v1::STATUS_OK);
  EXPECT_FALSE(pop_store_->find_citizen(id)->has_value());

  // Undoing a command that never applied changes nothing and succeeds.
  const auto nothing = pop_->handle(command("void-newborn", "p9/citizen/undo", {}));
  EXPECT_EQ(nothing.status(), v1::STATUS_OK);
  EXPECT_EQ(nothing.answer_json(), "{}");
}

TEST_F(CommandsTest, ArgumentsAreCheckedWithTheArgumentNamedAndNothingApplied) {
  const auto samples_before = pop_store_->samples(10000).size();
  auto args = newborn();
  args.erase("commune");
  auto r = pop_->handle(command("register-newborn", "b1", args));
  EXPECT_EQ(r.status(), v1::STATUS_BAD_REQUEST);
  EXPECT_EQ(r.detail(), "argument commune is missing");

  args = newborn();
  args["date_of_birth"] = "2026-02-30";
  r = pop_->handle(command("register-newborn", "b2", args));
  EXPECT_EQ(r.detail(), "argument date_of_birth must be a calendar date YYYY-MM-DD");
  args["date_of_birth"] = "2999-01-01";
  r = pop_->handle(command("register-newborn", "b3", args));
  EXPECT_EQ(r.detail(), "argument date_of_birth must not be in the future");

  args = newborn();
  args["birth_province_code"] = "999";
  r = pop_->handle(command("register-newborn", "b4", args));
  EXPECT_NE(r.detail().find("argument birth_province_code must be one of the 63"),
            std::string::npos);

  args = newborn();
  args["nickname"] = "Bống";
  r = pop_->handle(command("register-newborn", "b5", args));
  EXPECT_EQ(r.detail(), "argument nickname is not one of command register-newborn's");

  r = pop_->handle(command("delete-everyone", "b6", {}));
  EXPECT_EQ(r.status(), v1::STATUS_BAD_REQUEST);
  EXPECT_EQ(pop_store_->samples(10000).size(), samples_before);

  // A command id already used by another command is refused, not reinterpreted.
  ASSERT_EQ(pop_->handle(command("register-newborn", "x", newborn())).status(), v1::STATUS_OK);
  r = pop_->handle(command("void-newborn", "x", {}));
  EXPECT_EQ(r.status(), v1::STATUS_REJECTED);
}

TEST_F(CommandsTest, ABirthIsRegisteredOnceAndASecondBirthOfTheSameCitizenIsRejected) {
  const auto child =
      member(pop_->handle(command("register-newborn", "p1/c", newborn())), "citizen_id");
  const Args birth{{"citizen_id", child},
                   {"date_of_birth", "2026-11-30"},
                   {"place_of_registration", "UBND phường Phúc Xá"}};
  const auto r = civil_->handle(command("record-birth", "p1/birth", birth));
  ASSERT_EQ(r.status(), v1::STATUS_OK) << r.detail();
  EXPECT_EQ(member(r, "registration_number").substr(0, 8), "KS.2026.");
  const auto events = civil_store_->find_by_citizen(child);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1U);
  EXPECT_EQ(events->front().kind, "birth");

  const auto twice = civil_->handle(command("record-birth", "p2/birth", birth));
  EXPECT_EQ(twice.status(), v1::STATUS_REJECTED);
  EXPECT_EQ(twice.detail(), "this citizen's birth is already registered");

  ASSERT_EQ(civil_->handle(command("void-birth", "p1/birth/undo", {})).status(), v1::STATUS_OK);
  EXPECT_TRUE(civil_store_->find_by_citizen(child)->empty());
}

TEST_F(CommandsTest, AChildsCardCoversUntilTheDayBeforeTheSixthBirthday) {
  const auto child =
      member(pop_->handle(command("register-newborn", "p1/c", newborn())), "citizen_id");
  Args card{{"citizen_id", child},
            {"date_of_birth", "2024-02-29"},
            {"hospital_province", "Hà Nội"},
            {"hospital_facility_code", "01001"}};
  const auto r = ins_->handle(command("issue-child-card", "p1/card", card));
  ASSERT_EQ(r.status(), v1::STATUS_OK) << r.detail();
  EXPECT_EQ(member(r, "coverage_end"), "2030-02-28");
  EXPECT_EQ(member(r, "health_insurance_card").substr(0, 5), "TE1" + child.substr(1, 2));
  const auto row = ins_store_->find_by_citizen(child);
  ASSERT_TRUE(row && row->has_value());
  EXPECT_EQ((*row)->status, "active");
  EXPECT_EQ((*row)->benefit_level, 1);

  // One insurance record per citizen; and no child's card at 6 or older.
  EXPECT_EQ(ins_->handle(command("issue-child-card", "p2/card", card)).status(),
            v1::STATUS_REJECTED);
  ASSERT_EQ(ins_->handle(command("cancel-child-card", "p1/card/undo", {})).status(), v1::STATUS_OK);
  EXPECT_FALSE(ins_store_->find_by_citizen(child)->has_value());
  card["date_of_birth"] = "2015-06-01";
  const auto old = ins_->handle(command("issue-child-card", "p3/card", card));
  EXPECT_EQ(old.status(), v1::STATUS_REJECTED);
  EXPECT_EQ(old.detail(), "the child is 6 or older: no child's card");
}

/// A seeded insured citizen whose card is of `group` ("HT": a pensioner), or "".
std::string insured(insurance::InsuranceStore& store, std::string_view group) {
  for (const auto& row : store.samples(500)) {
    if (row.health_insurance_card.starts_with(group) && row.coverage_start <= "2023-01-01")
      return row.citizen_id;
  }
  return {};
}

TEST_F(CommandsTest, AFuneralAllowanceIsTenBaseSalariesOfTheMonthOfDeathAndItsUndoRestoresTheCard) {
  const std::string pensioner = insured(*ins_store_, "HT");
  ASSERT_FALSE(pensioner.empty());
  const auto card_before = **ins_store_->find_by_citizen(pensioner);
  // Died in June 2024: the base salary was still VND 1,800,000.
  const auto r =
      ins_->handle(command("grant-funeral-allowance", "d1/allowance",
                           {{"citizen_id", pensioner}, {"date_of_death", "2024-06-30"}}));
  ASSERT_EQ(r.status(), v1::STATUS_OK) << r.detail();
  EXPECT_EQ(member(r, "amount_vnd"), "18000000");
  EXPECT_EQ(member(r, "allowance_reference").substr(0, 8), "MT.2024.");
  EXPECT_EQ(member(r, "allowance_reference").find(pensioner), std::string::npos);
  const auto ended = **ins_store_->find_by_citizen(pensioner);
  EXPECT_EQ(ended.status, "ended");
  EXPECT_EQ(ended.coverage_end, "2024-06-30");
  // Once per citizen.
  const auto twice =
      ins_->handle(command("grant-funeral-allowance", "d2/allowance",
                           {{"citizen_id", pensioner}, {"date_of_death", "2024-07-01"}}));
  EXPECT_EQ(twice.status(), v1::STATUS_REJECTED);

  ASSERT_EQ(ins_->handle(command("revoke-funeral-allowance", "d1/allowance/undo", {})).status(),
            v1::STATUS_OK);
  const auto restored = **ins_store_->find_by_citizen(pensioner);
  EXPECT_EQ(restored.status, card_before.status);
  EXPECT_EQ(restored.coverage_end, card_before.coverage_end);
  // Granted again after the undo, a month later: the July 2024 base salary of VND 2,340,000.
  const auto later =
      ins_->handle(command("grant-funeral-allowance", "d3/allowance",
                           {{"citizen_id", pensioner}, {"date_of_death", "2024-07-01"}}));
  ASSERT_EQ(later.status(), v1::STATUS_OK) << later.detail();
  EXPECT_EQ(member(later, "amount_vnd"), "23400000");

  // A child's or a household card carries none.
  const std::string household = insured(*ins_store_, "GD");
  ASSERT_FALSE(household.empty());
  const auto none =
      ins_->handle(command("grant-funeral-allowance", "d4/allowance",
                           {{"citizen_id", household}, {"date_of_death", "2025-01-02"}}));
  EXPECT_EQ(none.status(), v1::STATUS_REJECTED);
  EXPECT_EQ(none.detail(), "the deceased's insurance (group GD) carries no funeral allowance");
}

TEST_F(CommandsTest, ADeregisteredResidenceIsKeptAndPutBackByItsUndo) {
  const auto someone = pop_store_->samples(1).at(0);
  const Args died{{"citizen_id", someone.citizen_id}, {"date_of_death", "2026-01-15"}};
  ASSERT_EQ(pop_->handle(command("deregister-residence", "d1/residence", died)).status(),
            v1::STATUS_OK);
  const auto gone = **pop_store_->find_citizen(someone.citizen_id);
  EXPECT_EQ(gone.province, "");
  EXPECT_EQ(gone.commune, "");
  EXPECT_EQ(pop_->handle(command("deregister-residence", "d2/residence", died)).status(),
            v1::STATUS_REJECTED);

  ASSERT_EQ(pop_->handle(command("restore-residence", "d1/residence/undo", {})).status(),
            v1::STATUS_OK);
  const auto back = **pop_store_->find_citizen(someone.citizen_id);
  EXPECT_EQ(back.province, someone.province);
  EXPECT_EQ(back.district, someone.district);
  EXPECT_EQ(back.commune, someone.commune);

  // A death before the birth is refused; so is an unknown citizen.
  Args early = died;
  early["date_of_death"] = "1900-01-01";
  const auto before_birth = pop_->handle(command("deregister-residence", "d3/residence", early));
  EXPECT_EQ(before_birth.status(), v1::STATUS_REJECTED);
  EXPECT_EQ(before_birth.detail(), "the date of death is before the citizen's date of birth");
}

TEST_F(CommandsTest, ADeathIsRegisteredOnceAndNeverBeforeTheRegisteredBirth) {
  const auto child =
      member(pop_->handle(command("register-newborn", "p1/c", newborn())), "citizen_id");
  ASSERT_EQ(civil_
                ->handle(command("record-birth", "p1/b",
                                 {{"citizen_id", child},
                                  {"date_of_birth", "2026-11-30"},
                                  {"place_of_registration", "UBND phường Phúc Xá"}}))
                .status(),
            v1::STATUS_OK);
  Args death{{"citizen_id", child},
             {"date_of_death", "2026-11-29"},
             {"place_of_registration", "UBND phường Phúc Xá"}};
  const auto early = civil_->handle(command("record-death", "d1/death", death));
  EXPECT_EQ(early.status(), v1::STATUS_REJECTED);
  EXPECT_EQ(early.detail(), "the date of death is before the registered date of birth");
  death["date_of_death"] = "2026-12-01";
  const auto r = civil_->handle(command("record-death", "d2/death", death));
  ASSERT_EQ(r.status(), v1::STATUS_OK) << r.detail();
  EXPECT_EQ(member(r, "registration_number").substr(0, 8), "KT.2026.");
  EXPECT_EQ(civil_->handle(command("record-death", "d3/death", death)).status(),
            v1::STATUS_REJECTED);
  ASSERT_EQ(civil_->handle(command("void-death", "d2/death/undo", {})).status(), v1::STATUS_OK);
  EXPECT_EQ(civil_store_->find_by_citizen(child)->size(), 1U);  // the birth only
}

TEST(CommandCatalogue, EveryUndoIsACommandOfTheSameRegistryThatTakesNoArguments) {
  std::size_t with_commands = 0;
  for (const Module* m : modules()) {
    const auto& commands = m->catalogue().commands;
    if (!commands.empty()) ++with_commands;
    for (const auto& c : commands) {
      if (c.undo.empty()) continue;
      const auto* undo = find_command(commands, c.undo);
      ASSERT_NE(undo, nullptr) << m->catalogue().name << " " << c.name;
      EXPECT_TRUE(undo->args.empty()) << undo->name;
    }
  }
  EXPECT_GE(with_commands, 3U);
}

}  // namespace
}  // namespace lgsp::registries
