// Insurance, vehicle and the cross-registry citizen profile over the real stack: three
// connectors in their consumer groups on the embedded Kafka-protocol cluster, each on its
// own SQLite registry seeded with the same synthetic citizens.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <thread>

#include "app/commands.hpp"
#include "audit/chain.hpp"
#include "domain/names.hpp"
#include "registries/civil_status/store.hpp"
#include "registries/insurance/store.hpp"
#include "registries/population/store.hpp"
#include "registries/vehicle/store.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/stack.hpp"

namespace lgsp::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

/// The same suite against each backend: SQLite files, and a real PostgreSQL server
/// (started for the run by support/with_postgres.sh). One stack per backend, shared.
class RegistriesApi : public ::testing::TestWithParam<std::string> {
 protected:
  static void TearDownTestSuite() { stacks_.clear(); }
  void SetUp() override {
    if (GetParam() == "postgres" && !postgres_available()) {
      GTEST_SKIP() << "LGSP_TEST_PG_DSN not set: run through ctest (support/with_postgres.sh)";
    }
    auto& s = stacks_[GetParam()];
    if (!s) s = std::make_unique<TestStack>(StackOptions{.backend = GetParam()});
    stack_ = s.get();
  }
  HttpResult post(const std::string& path, const json::object& body, const char* key) const {
    json::object b = body;
    b["purpose"] = "integration-test";
    return post_json(stack_->api_port(), path, json::serialize(b), key);
  }
  const config::RegistryConfig& registry(const char* name) const {
    return stack_->cfg.registries.at(name);
  }
  domain::InsuranceRow insured(const std::string& status) const {
    for (const auto& r : registries::insurance::open_store(registry("insurance"))->samples(500)) {
      if (r.status == status) return r;
    }
    ADD_FAILURE() << "no insurance record with status " << status;
    return {};
  }
  domain::VehicleRow vehicle(const std::string& status) const {
    for (const auto& r : registries::vehicle::open_store(registry("vehicle"))->samples(1000)) {
      if (r.status == status) return r;
    }
    ADD_FAILURE() << "no vehicle with status " << status;
    return {};
  }
  registries::civil_status::CivilEvent civil_event(const std::string& kind) const {
    for (const auto& e :
         registries::civil_status::open_store(registry("civil-status"))->samples(2000)) {
      if (e.kind == kind) return e;
    }
    ADD_FAILURE() << "no civil-status event of kind " << kind;
    return {};
  }
  std::vector<domain::CitizenRecord> citizens(std::int64_t n) const {
    return registries::population::open_store(registry("population"))->samples(n);
  }

  static inline std::map<std::string, std::unique_ptr<TestStack>> stacks_;
  TestStack* stack_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(Backends, RegistriesApi, ::testing::Values("sqlite", "postgres"),
                         [](const auto& param_info) { return param_info.param; });

TEST_P(RegistriesApi, InsuranceLookupBySinReturnsGrantedFieldsOnly) {
  const auto row = insured("active");
  const auto r = post("/v1/insurance/lookup",
                      {{"social_insurance_number", row.social_insurance_number}}, kMinistryKey);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto rec = r.json().at("record").as_object();
  EXPECT_EQ(rec.size(), 3U) << r.body;
  EXPECT_EQ(rec.at("status").as_string(), "active");
  EXPECT_EQ(rec.at("coverage_end").as_string(), row.coverage_end);
  EXPECT_EQ(rec.at("registered_hospital").at("facility_code").as_string(),
            row.hospital_facility_code);
  EXPECT_FALSE(rec.contains("health_insurance_card"));
  EXPECT_EQ(r.json().at("source").at("registry").as_string(), "insurance");
}

TEST_P(RegistriesApi, InsuranceLookupByCitizenFindsTheSameRecord) {
  const auto row = insured("active");
  const auto r = post("/v1/insurance/lookup", {{"citizen_id", row.citizen_id}}, kHealthKey);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("record").at("social_insurance_number").as_string(),
            row.social_insurance_number);
}

TEST_P(RegistriesApi, InsuranceVerifyValidCardOnADateInsideCoverage) {
  const auto row = insured("active");
  const auto r = post("/v1/insurance/verify",
                      {{"citizen_id", row.citizen_id},
                       {"health_insurance_card", row.health_insurance_card},
                       {"valid_on", row.coverage_start}},
                      kHealthKey);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json().at("match").as_bool()) << r.body;
  EXPECT_TRUE(r.json().at("valid_on_date").as_bool());
  EXPECT_EQ(r.json().at("fields").at("health_insurance_card").as_string(), "exact");
}

TEST_P(RegistriesApi, InsuranceVerifyOutsideCoverageOrEndedIsNotValid) {
  const auto row = insured("active");
  const auto before = post("/v1/insurance/verify",
                           {{"citizen_id", row.citizen_id},
                            {"health_insurance_card", row.health_insurance_card},
                            {"valid_on", "2019-06-01"}},
                           kHealthKey);
  ASSERT_EQ(before.status, 200) << before.body;
  EXPECT_FALSE(before.json().at("valid_on_date").as_bool());
  const auto ended = insured("ended");
  const auto r = post(
      "/v1/insurance/verify",
      {{"citizen_id", ended.citizen_id}, {"health_insurance_card", ended.health_insurance_card}},
      kHealthKey);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.json().at("match").as_bool());
}

TEST_P(RegistriesApi, InsuranceVerifyOfSomeoneElsesCardIsMismatch) {
  const auto a = insured("active");
  const auto b = registries::insurance::open_store(registry("insurance"))->samples(50).back();
  ASSERT_NE(a.citizen_id, b.citizen_id);
  const auto r =
      post("/v1/insurance/verify",
           {{"citizen_id", a.citizen_id}, {"health_insurance_card", b.health_insurance_card}},
           kHealthKey);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("fields").at("health_insurance_card").as_string(), "mismatch");
  EXPECT_FALSE(r.json().at("match").as_bool());
}

TEST_P(RegistriesApi, VehicleLookupByPlateAcceptsCompactSpelling) {
  const auto v = vehicle("registered");
  std::string compact;
  for (char c : v.plate_number) {
    if (c != '-' && c != '.') compact.push_back(c);
  }
  const auto r = post("/v1/vehicle/lookup", {{"plate_number", compact}}, kPoliceKey);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto list = r.json().at("vehicles").as_array();
  ASSERT_EQ(list.size(), 1U);
  EXPECT_EQ(list[0].at("plate_number").as_string(), v.plate_number);
  EXPECT_EQ(list[0].at("owner_citizen_id").as_string(), v.owner_citizen_id);
  EXPECT_FALSE(list[0].as_object().contains("engine_number"));
}

TEST_P(RegistriesApi, VehicleLookupByCitizenListsAllTheirVehicles) {
  const auto v = vehicle("registered");
  const auto expected = registries::vehicle::open_store(registry("vehicle"))
                            ->find_by_owner(v.owner_citizen_id)
                            .value()
                            .size();
  const auto r = post("/v1/vehicle/lookup", {{"citizen_id", v.owner_citizen_id}}, kMinistryKey);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("vehicles").as_array().size(), expected);
}

TEST_P(RegistriesApi, UnknownPlateIs404) {
  const auto r = post("/v1/vehicle/lookup", {{"plate_number", "99Z-999.99"}}, kPoliceKey);
  EXPECT_EQ(r.status, 404) << r.body;
}

TEST_P(RegistriesApi, VehicleVerifyOwnerAndStanding) {
  const auto v = vehicle("registered");
  const auto yes =
      post("/v1/vehicle/verify",
           {{"plate_number", v.plate_number}, {"citizen_id", v.owner_citizen_id}}, kPoliceKey);
  ASSERT_EQ(yes.status, 200) << yes.body;
  EXPECT_TRUE(yes.json().at("match").as_bool());
  EXPECT_TRUE(yes.json().at("in_good_standing").as_bool());
  const auto no =
      post("/v1/vehicle/verify", {{"plate_number", v.plate_number}, {"citizen_id", "001099012345"}},
           kPoliceKey);
  ASSERT_EQ(no.status, 200) << no.body;
  EXPECT_FALSE(no.json().at("match").as_bool());
  EXPECT_EQ(no.json().at("fields").at("owner_citizen_id").as_string(), "mismatch");
  EXPECT_EQ(no.body.find(v.owner_citizen_id), std::string::npos)
      << "verify must not reveal the owner";
}

TEST_P(RegistriesApi, CivilStatusVerifiesADeathAndOnlyWhatWasAsked) {
  const auto death = civil_event("death");
  const auto r = post(
      "/v1/civil-status/verify",
      {{"citizen_id", death.citizen_id}, {"deceased", true}, {"date_of_death", death.event_date}},
      kRegistrarKey);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json().at("match").as_bool()) << r.body;
  EXPECT_EQ(r.json().at("fields").at("deceased").as_string(), "exact");
  EXPECT_EQ(r.json().at("fields").at("date_of_death").as_string(), "exact");
  EXPECT_EQ(r.json().at("fields").as_object().size(), 2U) << r.body;
  EXPECT_EQ(r.json().at("source").at("registry").as_string(), "civil-status");

  // A living citizen (a birth registered, no death): "not deceased" is exact.
  const auto store = registries::civil_status::open_store(registry("civil-status"));
  std::string living;
  for (const auto& e : store->samples(100)) {
    const auto events = store->find_by_citizen(e.citizen_id);
    ASSERT_TRUE(events);
    if (std::none_of(events->begin(), events->end(),
                     [](const auto& x) { return x.kind == "death"; })) {
      living = e.citizen_id;
      break;
    }
  }
  ASSERT_FALSE(living.empty());
  const auto alive =
      post("/v1/civil-status/verify", {{"citizen_id", living}, {"deceased", false}}, kRegistrarKey);
  ASSERT_EQ(alive.status, 200) << alive.body;
  EXPECT_TRUE(alive.json().at("match").as_bool()) << alive.body;
  const auto dead_as_alive =
      post("/v1/civil-status/verify", {{"citizen_id", living}, {"deceased", true}}, kRegistrarKey);
  ASSERT_EQ(dead_as_alive.status, 200) << dead_as_alive.body;
  EXPECT_EQ(dead_as_alive.json().at("fields").at("deceased").as_string(), "mismatch");

  const auto death_of_sample =
      post("/v1/civil-status/verify", {{"citizen_id", death.citizen_id}, {"deceased", false}},
           kRegistrarKey);
  ASSERT_EQ(death_of_sample.status, 200) << death_of_sample.body;
  EXPECT_FALSE(death_of_sample.json().at("match").as_bool());
  EXPECT_EQ(death_of_sample.json().at("fields").at("deceased").as_string(), "mismatch");
}

TEST_P(RegistriesApi, CivilStatusVerifiesAMarriageOnItsDate) {
  const auto m = civil_event("marriage");
  const auto ask = [&](const std::string& spouse, const std::string& date) {
    return post(
        "/v1/civil-status/verify",
        {{"citizen_id", m.citizen_id}, {"spouse_citizen_id", spouse}, {"marriage_date", date}},
        kRegistrarKey);
  };
  const auto yes = ask(m.spouse_citizen_id, m.event_date);
  ASSERT_EQ(yes.status, 200) << yes.body;
  EXPECT_TRUE(yes.json().at("match").as_bool()) << yes.body;
  EXPECT_EQ(yes.json().at("fields").at("marriage_date").as_string(), "exact");

  const auto year = ask(m.spouse_citizen_id, m.event_date.substr(0, 4));
  ASSERT_EQ(year.status, 200) << year.body;
  EXPECT_EQ(year.json().at("fields").at("marriage_date").as_string(), "partial");
  EXPECT_FALSE(year.json().at("match").as_bool()) << "the registrar partner requires exact";

  const auto other = civil_event("birth");
  const auto no =
      ask(other.citizen_id == m.citizen_id ? "001099012345" : other.citizen_id, m.event_date);
  ASSERT_EQ(no.status, 200) << no.body;
  EXPECT_EQ(no.json().at("fields").at("spouse_citizen_id").as_string(), "mismatch");
  EXPECT_FALSE(no.json().at("match").as_bool());
}

TEST_P(RegistriesApi, CivilStatusLookupListsEventsWithGrantedFieldsOnly) {
  const auto m = civil_event("marriage");
  const auto r = post("/v1/civil-status/lookup", {{"citizen_id", m.citizen_id}}, kRegistrarKey);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto body = r.json();
  const auto& events = body.at("events").as_array();
  ASSERT_GE(events.size(), 2U) << r.body;
  EXPECT_EQ(events.at(0).at("kind").as_string(), "birth") << "oldest first";
  bool married = false;
  for (const auto& e : events) {
    for (const auto& [key, _] : e.as_object()) {
      EXPECT_TRUE(key == "kind" || key == "event_date" || key == "spouse_citizen_id" ||
                  key == "status")
          << "field not granted: " << key;
    }
    if (e.at("kind").as_string() == "marriage") {
      married = married || e.at("spouse_citizen_id").as_string() == m.spouse_citizen_id;
    }
  }
  EXPECT_TRUE(married) << r.body;
  EXPECT_EQ(r.body.find(m.registration_number), std::string::npos);
}

TEST_P(RegistriesApi, CivilStatusRefusesOtherPartnersAndEmptyQuestions) {
  const auto m = civil_event("marriage");
  EXPECT_EQ(post("/v1/civil-status/lookup", {{"citizen_id", m.citizen_id}}, kMinistryKey).status,
            403);
  const auto none = post("/v1/civil-status/verify", {{"citizen_id", m.citizen_id}}, kRegistrarKey);
  ASSERT_EQ(none.status, 400) << none.body;
  EXPECT_NE(none.body.find(R"("field":"deceased")"), std::string::npos) << none.body;
  const auto self =
      post("/v1/civil-status/verify",
           {{"citizen_id", m.citizen_id}, {"spouse_citizen_id", m.citizen_id}}, kRegistrarKey);
  ASSERT_EQ(self.status, 400) << self.body;
  EXPECT_NE(self.body.find(R"("field":"spouse_citizen_id")"), std::string::npos) << self.body;
}

TEST_P(RegistriesApi, PartnerWithoutVehicleScopeGetsNoVehicleData) {
  const auto v = vehicle("registered");
  EXPECT_EQ(post("/v1/vehicle/lookup", {{"plate_number", v.plate_number}}, kHealthKey).status, 403);
  const auto profile =
      post("/v1/citizen-profile", {{"citizen_id", v.owner_citizen_id}}, kHealthKey);
  ASSERT_EQ(profile.status, 200) << profile.body;
  EXPECT_FALSE(profile.json().at("parts").as_object().contains("vehicle")) << profile.body;
  EXPECT_EQ(profile.body.find(v.plate_number), std::string::npos);
}

TEST_P(RegistriesApi, CitizenProfileJoinsEveryAllowedRegistry) {
  const auto v = vehicle("registered");
  const auto r = post("/v1/citizen-profile", {{"citizen_id", v.owner_citizen_id}}, kMinistryKey);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = r.json().as_object();
  EXPECT_FALSE(j.at("partial").as_bool());
  const auto& parts = j.at("parts").as_object();
  ASSERT_EQ(parts.size(), 3U) << r.body;
  EXPECT_EQ(parts.at("population").at("status").as_string(), "ok");
  EXPECT_EQ(parts.at("population").at("record").as_object().size(), 3U);
  EXPECT_EQ(parts.at("vehicle").at("status").as_string(), "ok");
  bool found = false;
  for (const auto& x : parts.at("vehicle").at("vehicles").as_array())
    found = found || x.at("plate_number").as_string() == v.plate_number;
  EXPECT_TRUE(found) << r.body;
  const auto ins = parts.at("insurance").at("status").as_string();
  EXPECT_TRUE(ins == "ok" || ins == "not_found") << r.body;
}

TEST_P(RegistriesApi, PopulationByLegacyIdNumber) {
  domain::CitizenRecord c;
  for (const auto& r : citizens(200)) {
    if (!r.legacy_id_number.empty()) c = r;
  }
  ASSERT_FALSE(c.legacy_id_number.empty());
  const auto r =
      post("/v1/population/verify",
           {{"citizen_id", c.legacy_id_number}, {"full_name", c.full_name}}, kMinistryKey);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json().at("match").as_bool()) << r.body;
}

TEST_P(RegistriesApi, PopulationStoreReadsManyCitizensInOneQuery) {
  // What a bulk job's chunk costs the backend: one query for all its citizen IDs, unknown
  // and repeated ones included, each known record once and as the single lookup reads it.
  const auto store = registries::population::open_store(registry("population"));
  const auto known = citizens(300);
  std::vector<std::string> ids{"096399999999", "0990\"quoted\\", ""};
  for (const auto& c : known) ids.push_back(c.citizen_id);
  for (std::size_t i = 0; i < known.size(); i += 3) ids.push_back(known[i].citizen_id);
  const auto found = store->find_citizens(ids);
  ASSERT_TRUE(found) << found.error().message();
  ASSERT_EQ(found->size(), known.size());
  std::map<std::string, domain::CitizenRecord> by_id;
  for (const auto& r : *found) by_id.emplace(r.citizen_id, r);
  for (const auto& c : known) {
    const auto it = by_id.find(c.citizen_id);
    ASSERT_NE(it, by_id.end()) << "missing a known citizen";
    EXPECT_EQ(it->second.full_name, c.full_name);
    EXPECT_EQ(it->second.legacy_id_number, c.legacy_id_number);
    EXPECT_EQ(it->second.commune, c.commune);
  }
  const auto none = store->find_citizens({});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_P(RegistriesApi, DiacriticInsensitivePartnerGetsPartialMatch) {
  const auto c = citizens(3).at(1);
  // Strip the name to ASCII the way a form without Vietnamese input would.
  const auto folded = domain::fold_diacritics(c.full_name).value();
  const auto r = post("/v1/population/verify",
                      {{"citizen_id", c.citizen_id}, {"full_name", folded}}, kTelecomKey);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("fields").at("full_name").as_string(), "partial") << folded;
  EXPECT_TRUE(r.json().at("match").as_bool());
  // A strict partner sees the same claim as a mismatch.
  const auto strict = post("/v1/population/verify",
                           {{"citizen_id", c.citizen_id}, {"full_name", folded}}, kMinistryKey);
  EXPECT_EQ(strict.json().at("fields").at("full_name").as_string(), "mismatch");
  EXPECT_FALSE(strict.json().at("match").as_bool());
}

TEST_P(RegistriesApi, YearOnlyBirthDateIsPartialForPartnersGrantedIt) {
  const auto c = citizens(3).at(2);
  const json::object claims{{"citizen_id", c.citizen_id},
                            {"date_of_birth", c.date_of_birth.substr(0, 4)}};
  const auto refused = post("/v1/population/verify", claims, kMinistryKey);
  ASSERT_EQ(refused.status, 400) << "the ministry is not granted year_only_dates";
  const auto r = post("/v1/population/verify", claims, kTelecomKey);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("fields").at("date_of_birth").as_string(), "partial");
  EXPECT_TRUE(r.json().at("match").as_bool()) << "the telecom partner requires partial";
}

TEST(ProfilePartial, SlowOrDownRegistryIsMarkedUnavailableWithinTheDeadline) {
  TestStack stack({.deadline_ms = 1500});
  stack.stop_connector("vehicle");
  const auto subject = stack.subjects(1).at(0);
  const auto start = Clock::now();
  const auto r =
      post_json(stack.api_port(), "/v1/citizen-profile",
                json::serialize(json::object{{"citizen_id", subject.citizen_id}, {"purpose", "p"}}),
                kMinistryKey);
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_LT(took, 2500) << "answered after the deadline";
  const auto j = r.json().as_object();
  EXPECT_TRUE(j.at("partial").as_bool());
  EXPECT_EQ(j.at("parts").at("vehicle").at("status").as_string(), "unavailable");
  EXPECT_EQ(j.at("parts").at("population").at("status").as_string(), "ok");
}

/// A lookup by plate counts, in the citizen access log, for the plate's owner (the connector
/// tells the gateway whom the plate resolved to); the audit chain of the run verifies, on
/// each backend's audit store.
TEST_P(RegistriesApi, PlateLookupShowsInTheOwnersAccessLogAndTheChainVerifies) {
  const auto v = vehicle("registered");
  // True once `citizen`'s access log lists a police `operation` (the writer appends within
  // moments; the citizen may have older accesses from other tests).
  const auto listed = [this](const std::string& citizen, std::string_view operation) {
    for (int i = 0; i < 100; ++i) {
      const auto r = stack_->access_log(citizen);
      if (r.status != 200) return false;
      const json::value log = r.json();
      for (const auto& a : log.at("accesses").as_array()) {
        if (a.at("partner_id").as_string() == "police" &&
            a.at("operation").as_string() == operation)
          return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  ASSERT_EQ(post("/v1/vehicle/lookup", {{"plate_number", v.plate_number}}, kPoliceKey).status, 200);
  EXPECT_TRUE(listed(v.owner_citizen_id, "vehicle.lookup"))
      << "the owner's access log never listed the police plate lookup";

  // A verify claiming someone owns the plate is in that person's access log, owner or not
  // (fails on 293675d: only the plate was recorded).
  const std::string claimed = "001099012345";
  ASSERT_EQ(post("/v1/vehicle/verify", {{"plate_number", v.plate_number}, {"citizen_id", claimed}},
                 kPoliceKey)
                .status,
            200);
  EXPECT_TRUE(listed(claimed, "vehicle.verify"))
      << "the claimed owner's access log never listed the police verify";

  const auto report = audit::verify_chain(*app::open_audit_store(stack_->cfg));
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_GT(report.records, 0);
}

}  // namespace
}  // namespace lgsp::testing
