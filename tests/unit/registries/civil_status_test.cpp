// The civil-status module: its synthetic data agrees with the population registry, its
// answers grade only what was asked, and its parser names the field at fault.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "gateway/validation.hpp"
#include "registries/civil_status/service.hpp"
#include "registries/civil_status/store.hpp"
#include "registries/civil_status/synthetic.hpp"
#include "registries/population/store.hpp"
#include "seed/seeder.hpp"
#include "seed/synthetic.hpp"

namespace lgsp::registries::civil_status {
namespace {

namespace v1 = bus::v1;

/// 3,000 synthetic citizens in both registries, as `lgsp seed` writes them.
class CivilStatusTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("lgsp-civil-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    seed::seed_registries(seed::sqlite_targets({{"population", (dir_ / "population.db").string()},
                                                {"civil-status", (dir_ / "civil.db").string()}}),
                          3000, 5);
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }
  void SetUp() override {
    store_ = open_sqlite_store((dir_ / "civil.db").string());
    service_ = std::make_unique<CivilStatusService>(*store_, [] { return std::int64_t{1}; });
  }
  /// Every citizen of the population registry, by ID.
  static std::map<std::string, domain::CitizenRecord> population() {
    std::map<std::string, domain::CitizenRecord> out;
    seed::SyntheticPopulation gen(5);
    for (int i = 0; i < 3000; ++i) {
      auto c = gen.next();
      out.emplace(c.citizen_id, c);
    }
    return out;
  }
  const CivilEvent& first(const std::string& kind) {
    all_ = store_->samples(3000 * 3);
    const auto it =
        std::find_if(all_.begin(), all_.end(), [&](const auto& e) { return e.kind == kind; });
    if (it == all_.end()) throw std::runtime_error("no " + kind);
    return *it;
  }
  v1::Request verify(const std::string& citizen, std::map<std::string, std::string> claims) {
    v1::Request r;
    r.set_operation(v1::OPERATION_VERIFY);
    r.set_subject_key("citizen_id");
    r.set_subject(citizen);
    for (auto& [k, v] : claims) (*r.mutable_claims())[k] = v;
    return r;
  }
  static std::map<std::string, v1::Grade> grades(const v1::Reply& reply) {
    std::map<std::string, v1::Grade> out;
    for (const auto& f : reply.verify().fields()) out[f.field()] = f.grade();
    return out;
  }

  static inline std::filesystem::path dir_;
  std::unique_ptr<CivilStatusStore> store_;
  std::unique_ptr<CivilStatusService> service_;
  std::vector<CivilEvent> all_;
};

TEST_F(CivilStatusTest, SyntheticEventsAgreeWithThePopulationRegistry) {
  const auto people = population();
  std::map<std::string, int> births;
  std::map<std::string, std::vector<CivilEvent>> marriages;  // by registration number
  int deaths = 0;
  for (const auto& [id, c] : people) {
    const auto events = store_->find_by_citizen(id);
    ASSERT_TRUE(events) << events.error().message();
    std::string died;
    for (const auto& e : *events) {
      EXPECT_EQ(e.citizen_id, id);
      EXPECT_GE(e.registered_on, e.event_date) << e.registration_number;
      if (e.kind == "birth") {
        ++births[id];
        EXPECT_EQ(e.event_date, c.date_of_birth);
      } else if (e.kind == "death") {
        ++deaths;
        died = e.event_date;
        EXPECT_GT(e.event_date, c.id_card_issue_date) << "no ID card after death";
      } else {
        ASSERT_EQ(e.kind, "marriage");
        marriages[e.registration_number].push_back(e);
      }
    }
    EXPECT_EQ(births[id], 1) << "exactly one birth per citizen";
    for (const auto& e : *events) {
      if (e.kind == "marriage" && !died.empty()) {
        EXPECT_LT(e.event_date, died);
      }
    }
  }
  EXPECT_GT(deaths, 10);
  EXPECT_GT(marriages.size(), 500U);
  for (const auto& [no, rows] : marriages) {
    ASSERT_EQ(rows.size(), 2U) << no << ": one row per spouse";
    EXPECT_EQ(rows[0].spouse_citizen_id, rows[1].citizen_id);
    EXPECT_EQ(rows[1].spouse_citizen_id, rows[0].citizen_id);
    EXPECT_EQ(rows[0].event_date, rows[1].event_date);
    const auto& a = people.at(rows[0].citizen_id);
    const auto& b = people.at(rows[1].citizen_id);
    EXPECT_NE(a.gender, b.gender);
    const auto& man = a.gender == "male" ? a : b;
    const auto& woman = a.gender == "male" ? b : a;
    // Legal age: 20 for men, 18 for women (year granularity is enough to catch a bug).
    EXPECT_GE(std::stoi(rows[0].event_date.substr(0, 4)),
              std::stoi(man.date_of_birth.substr(0, 4)) + 20);
    EXPECT_GE(std::stoi(rows[0].event_date.substr(0, 4)),
              std::stoi(woman.date_of_birth.substr(0, 4)) + 18);
  }
}

TEST_F(CivilStatusTest, SameSeedSameRegistry) {
  SyntheticCivilStatus a(9), b(9), c(10);
  seed::SyntheticPopulation gen(9);
  bool differs = false;
  for (int i = 0; i < 500; ++i) {
    const auto citizen = gen.next();
    const auto ea = a.events_for(citizen);
    const auto eb = b.events_for(citizen);
    const auto ec = c.events_for(citizen);
    ASSERT_EQ(ea.size(), eb.size());
    for (std::size_t k = 0; k < ea.size(); ++k) EXPECT_EQ(ea[k].event_date, eb[k].event_date);
    differs = differs || ea.size() != ec.size();
  }
  EXPECT_TRUE(differs) << "another seed gives other marriages and deaths";
}

TEST_F(CivilStatusTest, VerifyDeathGradesTheClaimsOnly) {
  const auto death = first("death");
  const auto reply = service_->handle(
      verify(death.citizen_id, {{"deceased", "true"}, {"date_of_death", death.event_date}}));
  ASSERT_EQ(reply.status(), v1::STATUS_OK);
  EXPECT_TRUE(reply.verify().match());
  EXPECT_EQ(grades(reply), (std::map<std::string, v1::Grade>{{"deceased", v1::GRADE_EXACT},
                                                             {"date_of_death", v1::GRADE_EXACT}}));
  EXPECT_TRUE(reply.verify().facts().empty()) << "nothing the partner did not ask";
  const auto wrong = service_->handle(verify(death.citizen_id, {{"deceased", "false"}}));
  EXPECT_FALSE(wrong.verify().match());
  const auto year = service_->handle(
      verify(death.citizen_id, {{"date_of_death", death.event_date.substr(0, 4)}}));
  EXPECT_EQ(grades(year).at("date_of_death"), v1::GRADE_PARTIAL);
}

TEST_F(CivilStatusTest, VerifyMarriageNamesTheSpouseForTheirAccessLog) {
  const auto m = first("marriage");
  auto req = verify(m.citizen_id,
                    {{"spouse_citizen_id", m.spouse_citizen_id}, {"marriage_date", m.event_date}});
  const auto yes = service_->handle(req);
  EXPECT_TRUE(yes.verify().match());
  ASSERT_EQ(yes.subject_citizen_ids_size(), 1);
  EXPECT_EQ(yes.subject_citizen_ids(0), m.spouse_citizen_id);
  const auto wrong_date = service_->handle(verify(
      m.citizen_id, {{"spouse_citizen_id", m.spouse_citizen_id}, {"marriage_date", "1901-01-01"}}));
  EXPECT_FALSE(wrong_date.verify().match());
  EXPECT_EQ(grades(wrong_date).at("spouse_citizen_id"), v1::GRADE_EXACT);
  EXPECT_EQ(grades(wrong_date).at("marriage_date"), v1::GRADE_MISMATCH);
}

TEST_F(CivilStatusTest, UnknownCitizenIsNotFound) {
  const auto v = service_->handle(verify("001099999999", {{"deceased", "false"}}));
  EXPECT_FALSE(v.verify().subject_found());
  EXPECT_FALSE(v.verify().match());
  EXPECT_EQ(v.verify().fields_size(), 0) << "nothing graded for an unknown citizen";
  v1::Request lookup = verify("001099999999", {});
  lookup.set_operation(v1::OPERATION_LOOKUP);
  EXPECT_EQ(service_->handle(lookup).status(), v1::STATUS_NOT_FOUND);
}

TEST_F(CivilStatusTest, LookupMinimisesAndNamesTheSpouse) {
  const auto m = first("marriage");
  v1::Request r = verify(m.citizen_id, {});
  r.set_operation(v1::OPERATION_LOOKUP);
  r.add_fields("kind");
  r.add_fields("event_date");
  const auto reply = service_->handle(r);
  ASSERT_EQ(reply.status(), v1::STATUS_OK);
  EXPECT_NE(reply.answer_json().find(R"("kind":"marriage")"), std::string::npos);
  EXPECT_EQ(reply.answer_json().find(m.spouse_citizen_id), std::string::npos)
      << "spouse_citizen_id was not asked";
  EXPECT_EQ(reply.answer_json().find("registration_number"), std::string::npos);
  ASSERT_GE(reply.subject_citizen_ids_size(), 1);
  EXPECT_EQ(reply.subject_citizen_ids(0), m.spouse_citizen_id);
}

std::vector<http::FieldError> refused(std::string_view op, std::string_view body) {
  auto p = gateway::parse_request("civil-status", op, body);
  const auto* e = std::get_if<std::vector<http::FieldError>>(&p);
  return e != nullptr ? *e : std::vector<http::FieldError>{};
}

TEST(CivilStatusParse, NamesTheFieldAtFault) {
  const auto ok = gateway::parse_request(
      "civil-status", "verify",
      R"({"citizen_id":"001099012345","deceased":true,"marriage_date":"2001","purpose":"p"})",
      {.year_only_dates = true});
  ASSERT_TRUE(std::holds_alternative<gateway::ParsedRequest>(ok));
  const auto& env = std::get<gateway::ParsedRequest>(ok).envelope;
  EXPECT_EQ(env.claims().at("deceased"), "true");
  EXPECT_EQ(env.claims().at("marriage_date"), "2001");

  const auto field = [](const std::vector<http::FieldError>& e) {
    return e.empty() ? std::string("(none)") : e.front().field;
  };
  EXPECT_EQ(field(refused("verify", R"({"citizen_id":"001099012345","purpose":"p"})")), "deceased");
  EXPECT_EQ(
      field(refused("verify", R"({"citizen_id":"001099012345","deceased":"yes","purpose":"p"})")),
      "deceased");
  EXPECT_EQ(
      field(refused("verify",
                    R"({"citizen_id":"001099012345","date_of_death":"05/01/2020","purpose":"p"})")),
      "date_of_death");
  EXPECT_EQ(
      field(refused(
          "verify",
          R"({"citizen_id":"001099012345","spouse_citizen_id":"001099012345","purpose":"p"})")),
      "spouse_citizen_id");
  EXPECT_EQ(
      field(refused("lookup", R"({"citizen_id":"001099012345","full_name":"x","purpose":"p"})")),
      "full_name");
  EXPECT_EQ(
      field(refused("lookup",
                    R"({"citizen_id":"001099012345","fields":["plate_number"],"purpose":"p"})")),
      "fields");
}

}  // namespace
}  // namespace lgsp::registries::civil_status
