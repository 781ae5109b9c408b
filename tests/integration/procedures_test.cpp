// Procedures over the real stack: the birth procedure's commands travel over the embedded
// Kafka-protocol cluster to the population, civil-status and insurance connectors, each
// changing its SQLite registry once; a step the registry refuses undoes the earlier ones;
// every change lands in the changed citizen's access log; and SIGKILL of the gateway or a
// connector mid-procedure loses nothing and applies nothing twice.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <thread>

#include "seed/seeder.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/gateway_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/pg_schema.hpp"
#include "tests/support/procedures.hpp"
#include "tests/support/stack.hpp"
#include "tests/support/standin.hpp"
#include "util/hashing.hpp"
#include "util/sqlite.hpp"

namespace lgsp::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kCommuneKey = "test-commune-key";

json::object birth_input(const std::string& date_of_birth = "2026-11-28") {
  return {{"child_full_name", "Trần Minh Khôi"},
          {"date_of_birth", date_of_birth},
          {"gender", "nam"},
          {"birth_province_code", "079"},
          {"place_of_origin", "Quảng Nam"},
          {"province", "Hồ Chí Minh"},
          {"district", "Quận 3"},
          {"commune", "Phường Võ Thị Sáu"},
          {"place_of_registration", "UBND phường Võ Thị Sáu"},
          {"hospital_facility_code", "79024"}};
}

/// A stack whose config defines the birth procedure and a commune granted it.
StackOptions with_procedures(StackOptions o = {}) {
  o.extra_yaml = kProceduresYaml;
  o.extra_partners =
      "  - id: commune\n    api_key_sha256: [" + util::sha256_hex(kCommuneKey) +
      "]\n    operations: [procedure.birth-registration, procedure.death-registration]\n";
  return o;
}

/// A POST /v1/procedures/{name} as the commune.
HttpResult start_procedure(std::uint16_t api, const std::string& name, const json::object& input,
                           const std::string& key = {}, const char* api_key = kCommuneKey) {
  json::object body{{"purpose", name}, {"on_behalf_of", "registrar-0042"}, {"input", input}};
  std::map<std::string, std::string> headers{{"Authorization", std::string("Bearer ") + api_key},
                                             {"Content-Type", "application/json"}};
  if (!key.empty()) headers["Idempotency-Key"] = key;
  return http_call(api, "POST", "/v1/procedures/" + name, json::serialize(body), headers);
}

HttpResult start_birth(std::uint16_t api, const json::object& input, const std::string& key = {},
                       const char* api_key = kCommuneKey) {
  return start_procedure(api, "birth-registration", input, key, api_key);
}

/// One number from a SQLite file (read while its writer runs: WAL readers do not block it).
std::int64_t count(const std::filesystem::path& db, const std::string& sql) {
  auto conn = sqlite::open(db.string(), SQLITE_OPEN_READONLY);
  auto s = sqlite::prepare(conn.get(), sql);
  return sqlite3_step(s.get()) == SQLITE_ROW ? sqlite3_column_int64(s.get(), 0) : -1;
}

/// What one birth procedure adds to each registry, counted in the stack's files: citizens,
/// birth events, insurance cards.
std::array<std::int64_t, 3> birth_rows(const std::filesystem::path& dir) {
  return {count(dir / "population.db", "SELECT count(*) FROM citizens"),
          count(dir / "civil-status.db", "SELECT count(*) FROM civil_events WHERE kind = 'birth'"),
          count(dir / "insurance.db", "SELECT count(*) FROM insurance")};
}

/// A living insured citizen whose card is of one of `groups` (the first letters of the card
/// number, a SQL list such as "'DN','HT'"), with no death registered, from the stack's files.
std::string insured_citizen(const TestStack& stack, const std::string& groups) {
  auto conn = sqlite::open((stack.dir / "insurance.db").string(), SQLITE_OPEN_READONLY);
  sqlite::exec(conn.get(), ("ATTACH '" + (stack.dir / "civil-status.db").string() + "' AS cs; " +
                            "ATTACH '" + (stack.dir / "population.db").string() + "' AS pop;")
                               .c_str());
  auto s = sqlite::prepare(
      conn.get(),
      "SELECT i.citizen_id FROM insurance i JOIN pop.citizens c USING (citizen_id)"
      " WHERE substr(i.health_insurance_card, 1, 2) IN (" +
          groups +
          ")"
          " AND i.coverage_start <= '2026-11-30' AND c.province <> ''"
          " AND NOT EXISTS (SELECT 1 FROM cs.civil_events e WHERE e.citizen_id = i.citizen_id"
          " AND e.kind = 'death') ORDER BY i.citizen_id LIMIT 1");
  return sqlite3_step(s.get()) == SQLITE_ROW ? sqlite::column_text(s.get(), 0) : std::string();
}

json::object death_input(const std::string& citizen_id) {
  return {{"citizen_id", citizen_id},
          {"date_of_death", "2026-11-30"},
          {"place_of_registration", "UBND phường Võ Thị Sáu"}};
}

class Procedures : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { stack_ = std::make_unique<TestStack>(with_procedures()); }
  static void TearDownTestSuite() { stack_.reset(); }

  static HttpResult start(const json::object& input, const std::string& key = {},
                          const char* api_key = kCommuneKey) {
    return start_birth(stack_->api_port(), input, key, api_key);
  }
  static HttpResult status(const std::string& id, const char* api_key = kCommuneKey) {
    return http_call(stack_->api_port(), "GET", "/v1/procedures/" + id, {},
                     {{"Authorization", std::string("Bearer ") + api_key}});
  }
  /// Polls the procedure until it is completed or failed (20 s at most).
  static json::object finished(const std::string& id) {
    const auto until = Clock::now() + std::chrono::seconds(20);
    json::object last;
    while (Clock::now() < until) {
      const auto r = status(id);
      EXPECT_EQ(r.status, 200) << r.body;
      last = r.json().as_object();
      const auto state = last.at("state").as_string();
      if (state == "completed" || state == "failed") return last;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "procedure " << id << " still " << json::serialize(last);
    return last;
  }
  static HttpResult lookup(const std::string& registry, const std::string& citizen_id,
                           const char* key) {
    json::object b{{"citizen_id", citizen_id}, {"purpose", "integration-test"}};
    return post_json(stack_->api_port(), "/v1/" + registry + "/lookup", json::serialize(b), key);
  }
  static std::string step_result(const json::object& p, std::size_t i, const char* member) {
    return std::string(p.at("steps").at(i).at("result").at(member).as_string());
  }

  static inline std::unique_ptr<TestStack> stack_;
};

TEST_F(Procedures, ABirthIsRegisteredInEveryRegistryOnceAndTheChildsAccessLogShowsIt) {
  const auto before = stack_->wait_for_audit(0);
  const auto r = start(birth_input(), "birth-khoi-1");
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string id(r.json().at("id").as_string());
  EXPECT_EQ(r.header("location"), "/v1/procedures/" + id);
  EXPECT_EQ(r.json().at("steps").as_array().size(), 3U);

  // The same submission again: the same procedure, not a second child.
  const auto again = start(birth_input(), "birth-khoi-1");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json().at("id").as_string(), id);
  // The same key with other input is refused.
  auto other = birth_input();
  other["gender"] = "nữ";
  const auto reused = start(other, "birth-khoi-1");
  EXPECT_EQ(reused.status, 422) << reused.body;

  const auto p = finished(id);
  ASSERT_EQ(p.at("state").as_string(), "completed") << json::serialize(p);
  for (const auto& st : p.at("steps").as_array()) {
    EXPECT_EQ(st.at("state").as_string(), "done") << json::serialize(st);
    EXPECT_GE(st.at("attempts").as_int64(), 1);
  }
  const std::string child = step_result(p, 0, "citizen_id");
  EXPECT_EQ(child.substr(0, 4), "0792");  // Hồ Chí Minh, male born in the 2000s

  // Every registry now answers for the child, through the gateway like any partner reads.
  const auto person = lookup("population", child, kMinistryKey);
  ASSERT_EQ(person.status, 200) << person.body;
  EXPECT_EQ(person.json().at("record").at("full_name").as_string(), "Trần Minh Khôi");
  EXPECT_EQ(person.json().at("record").at("date_of_birth").as_string(), "2026-11-28");
  const auto card = lookup("insurance", child, kMinistryKey);
  ASSERT_EQ(card.status, 200) << card.body;
  EXPECT_EQ(card.json().at("record").at("status").as_string(), "active");
  EXPECT_EQ(card.json().at("record").at("coverage_end").as_string(), "2032-11-27");
  const auto birth = lookup("civil-status", child, kRegistrarKey);
  ASSERT_EQ(birth.status, 200) << birth.body;
  EXPECT_NE(birth.body.find("\"kind\":\"birth\""), std::string::npos) << birth.body;

  // Three changes, each in the child's access log under the commune's name. The audit
  // writer stores events as they come off the topic, the status reads' among them, so
  // the log is read again until the three are there or the deadline passes.
  ASSERT_GE(stack_->wait_for_audit(before + 3), before + 3);
  std::set<std::string> operations;
  HttpResult log;
  const auto until = Clock::now() + std::chrono::seconds(20);
  do {
    log = stack_->access_log(child);
    ASSERT_EQ(log.status, 200) << log.body;
    operations.clear();
    const json::value accesses = log.json();
    for (const auto& a : accesses.at("accesses").as_array()) {
      if (a.at("partner_id").as_string() == "commune")
        operations.insert(std::string(a.at("operation").as_string()));
    }
    if (operations.size() >= 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (Clock::now() < until);
  EXPECT_TRUE(operations.contains("population.register-newborn")) << log.body;
  EXPECT_TRUE(operations.contains("civil-status.record-birth")) << log.body;
  EXPECT_TRUE(operations.contains("insurance.issue-child-card")) << log.body;
}

TEST_F(Procedures, ALastStepTheRegistryRefusesUndoesTheStepsBeforeIt) {
  // A child born in 2015 is 6 or older: the insurance registry refuses the child's card.
  const auto r = start(birth_input("2015-03-10"));
  ASSERT_EQ(r.status, 202) << r.body;
  const auto p = finished(std::string(r.json().at("id").as_string()));
  ASSERT_EQ(p.at("state").as_string(), "failed") << json::serialize(p);
  const auto& steps = p.at("steps").as_array();
  EXPECT_EQ(steps.at(0).at("state").as_string(), "undone");
  EXPECT_EQ(steps.at(1).at("state").as_string(), "undone");
  EXPECT_EQ(steps.at(2).at("state").as_string(), "failed");
  EXPECT_EQ(steps.at(2).at("detail").as_string(), "the child is 6 or older: no child's card");
  EXPECT_NE(p.at("error").as_string().find("step card failed"), std::string::npos);

  // Nothing of the child remains in any registry.
  const std::string child = step_result(p, 0, "citizen_id");
  EXPECT_EQ(lookup("population", child, kMinistryKey).status, 404);
  EXPECT_EQ(lookup("insurance", child, kMinistryKey).status, 404);
  const auto birth = lookup("civil-status", child, kRegistrarKey);
  EXPECT_EQ(birth.body.find("\"kind\":\"birth\""), std::string::npos) << birth.body;
}

TEST_F(Procedures, ADeathIsRegisteredResidenceEndedAndTheFuneralAllowanceGranted) {
  const std::string pensioner = insured_citizen(*stack_, "'DN','HC','HT'");
  ASSERT_FALSE(pensioner.empty());
  const auto r = start_procedure(stack_->api_port(), "death-registration", death_input(pensioner));
  ASSERT_EQ(r.status, 202) << r.body;
  const auto p = finished(std::string(r.json().at("id").as_string()));
  ASSERT_EQ(p.at("state").as_string(), "completed") << json::serialize(p);
  EXPECT_EQ(step_result(p, 0, "registration_number").substr(0, 8), "KT.2026.");
  // Ten times the base salary of November 2026 (VND 2,340,000 since July 2024).
  EXPECT_EQ(step_result(p, 2, "amount_vnd"), "23400000");

  // No permanent residence any more; the one it was is kept in the registry's history.
  const auto residence = [this_dir = stack_->dir](const std::string& sql) {
    return count(this_dir / "population.db", sql);
  };
  EXPECT_EQ(residence("SELECT count(*) FROM citizens WHERE province = '' AND citizen_id = '" +
                      pensioner + "'"),
            1);
  EXPECT_EQ(residence("SELECT count(*) FROM residence_deregistrations WHERE province <> ''"
                      " AND citizen_id = '" +
                      pensioner + "'"),
            1);
  const auto card = lookup("insurance", pensioner, kMinistryKey);
  ASSERT_EQ(card.status, 200) << card.body;
  EXPECT_EQ(card.json().at("record").at("status").as_string(), "ended");
  EXPECT_LE(card.json().at("record").at("coverage_end").as_string(), "2026-11-30");
  const auto death = lookup("civil-status", pensioner, kRegistrarKey);
  EXPECT_NE(death.body.find("\"kind\":\"death\""), std::string::npos) << death.body;

  // A second death registration of the same citizen is refused at its first step.
  const auto again =
      start_procedure(stack_->api_port(), "death-registration", death_input(pensioner));
  ASSERT_EQ(again.status, 202) << again.body;
  const auto twice = finished(std::string(again.json().at("id").as_string()));
  EXPECT_EQ(twice.at("state").as_string(), "failed") << json::serialize(twice);
  EXPECT_EQ(twice.at("steps").at(0).at("detail").as_string(),
            "this citizen's death is already registered");
}

TEST_F(Procedures, AFuneralAllowanceRefusedRestoresTheResidenceAndVoidsTheDeath) {
  // A household-scheme card (GD) carries no funeral allowance: the last step is refused.
  const std::string citizen = insured_citizen(*stack_, "'GD'");
  ASSERT_FALSE(citizen.empty());
  const auto province = [dir = stack_->dir, &citizen] {
    auto conn = sqlite::open((dir / "population.db").string(), SQLITE_OPEN_READONLY);
    auto s = sqlite::prepare(conn.get(),
                             "SELECT province || '/' || district || '/' || commune"
                             " FROM citizens WHERE citizen_id = ?1");
    sqlite::bind_text(s.get(), 1, citizen);
    return sqlite3_step(s.get()) == SQLITE_ROW ? sqlite::column_text(s.get(), 0) : std::string();
  };
  const std::string before = province();
  ASSERT_GT(before.size(), 2U);
  const auto r = start_procedure(stack_->api_port(), "death-registration", death_input(citizen));
  ASSERT_EQ(r.status, 202) << r.body;
  const auto p = finished(std::string(r.json().at("id").as_string()));
  ASSERT_EQ(p.at("state").as_string(), "failed") << json::serialize(p);
  EXPECT_EQ(p.at("steps").at(0).at("state").as_string(), "undone");
  EXPECT_EQ(p.at("steps").at(1).at("state").as_string(), "undone");
  EXPECT_EQ(p.at("steps").at(2).at("detail").as_string(),
            "the deceased's insurance (group GD) carries no funeral allowance");

  // The residence is back as it was, the death is gone, the card untouched.
  EXPECT_EQ(province(), before);
  const auto death = lookup("civil-status", citizen, kRegistrarKey);
  EXPECT_EQ(death.body.find("\"kind\":\"death\""), std::string::npos) << death.body;
  EXPECT_EQ(
      count(stack_->dir / "population.db",
            "SELECT count(*) FROM residence_deregistrations WHERE citizen_id = '" + citizen + "'"),
      0);
}

TEST_F(Procedures, InputIsCheckedMemberByMemberAndOnlyTheGrantedPartnerSeesItsProcedures) {
  auto input = birth_input();
  input.erase("commune");
  input["date_of_birth"] = "2026-02-30";
  input["nickname"] = "Bin";
  const auto bad = start(input);
  ASSERT_EQ(bad.status, 400) << bad.body;
  std::set<std::string> fields;
  const json::value problem = bad.json();
  for (const auto& e : problem.at("errors").as_array())
    fields.insert(std::string(e.at("field").as_string()));
  EXPECT_EQ(fields,
            (std::set<std::string>{"input.commune", "input.date_of_birth", "input.nickname"}));

  // A partner not granted the procedure may not start it.
  EXPECT_EQ(start(birth_input(), {}, kMinistryKey).status, 403);
  const auto unknown = http_call(stack_->api_port(), "POST", "/v1/procedures/adoption", "{}",
                                 {{"Authorization", std::string("Bearer ") + kCommuneKey},
                                  {"Content-Type", "application/json"}});
  EXPECT_EQ(unknown.status, 404) << unknown.body;

  // Another partner's procedure does not exist for it.
  const auto mine = start(birth_input());
  ASSERT_EQ(mine.status, 202) << mine.body;
  const std::string id(mine.json().at("id").as_string());
  EXPECT_EQ(status(id, kMinistryKey).status, 404);
  EXPECT_EQ(status("prc-0123456789abcdef0123456789abcdef").status, 404);
  EXPECT_EQ(status("../../etc/passwd").status, 404);
  finished(id);
}

/// The civil-status step through the Ministry of Justice's own system (the upstream backend,
/// played by the stand-in): it records the birth once per command id, and undoes it when a
/// later step fails.
TEST(ProcedureUpstream, TheMinistrysOwnSystemRecordsTheBirthOnceAndUndoesIt) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("lgsp-proc-upstream-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string db = (dir / "justice.db").string();
  seed::seed_registries(seed::sqlite_targets({{"civil-status", db}}), 2000, 11);
  const Standin justice(dir, "", {"--civil-status-db", db});
  auto options = with_procedures(
      {.registries = {{"civil-status",
                       justice_registry_yaml(justice.url(),
                                             "commands: {record-birth: /api/v1/ho-tich/khai-sinh,"
                                             " void-birth: /api/v1/ho-tich/khai-sinh/huy,"
                                             " record-death: /api/v1/ho-tich/khai-tu,"
                                             " void-death: /api/v1/ho-tich/khai-tu/huy},"
                                             " change_outbox: \"" +
                                                 (dir / "justice-changes.db").string() + "\"")}}});
  // The ministry's changes reach the change feed through the connector's own outbox.
  options.extra_yaml += "changes: {sqlite_path: @DIR@/changes.db}\n";
  TestStack stack(options);
  const auto announced = [&stack](const std::string& kind, const std::string& citizen) {
    const auto until = Clock::now() + std::chrono::seconds(10);
    std::int64_t n = 0;
    while ((n = count(stack.dir / "changes.db",
                      "SELECT count(*) FROM changes WHERE kind_key = 'civil-status." + kind +
                          "' AND citizen_id = '" + citizen + "'")) == 0 &&
           Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return n;
  };
  const auto births = [&db](const std::string& child) {
    return count(db, "SELECT count(*) FROM civil_events WHERE kind = 'birth' AND citizen_id = '" +
                         child + "'");
  };
  const auto wait = [&stack](const std::string& id) {
    const auto until = Clock::now() + std::chrono::seconds(20);
    json::object p;
    do {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      p = http_call(stack.api_port(), "GET", "/v1/procedures/" + id, {},
                    {{"Authorization", std::string("Bearer ") + kCommuneKey}})
              .json()
              .as_object();
    } while (
        (p.at("state").as_string() == "running" || p.at("state").as_string() == "compensating") &&
        Clock::now() < until);
    return p;
  };

  const auto r = start_birth(stack.api_port(), birth_input());
  ASSERT_EQ(r.status, 202) << r.body;
  const auto done = wait(std::string(r.json().at("id").as_string()));
  ASSERT_EQ(done.at("state").as_string(), "completed") << json::serialize(done);
  const std::string child(done.at("steps").at(0).at("result").at("citizen_id").as_string());
  EXPECT_EQ(births(child), 1);
  EXPECT_EQ(done.at("steps").at(1).at("result").at("registration_number").as_string().subview(0, 8),
            "KS.2026.");
  // The birth is in the ministry's answers to the gateway's reads too.
  json::object ask{{"citizen_id", child}, {"purpose", "integration-test"}};
  const auto l =
      post_json(stack.api_port(), "/v1/civil-status/lookup", json::serialize(ask), kRegistrarKey);
  ASSERT_EQ(l.status, 200) << l.body;
  EXPECT_NE(l.body.find("\"kind\":\"birth\""), std::string::npos) << l.body;
  EXPECT_EQ(announced("record-birth", child), 1);

  // A child's card refused (born 2015): the ministry is asked to undo its registration.
  const auto old = start_birth(stack.api_port(), birth_input("2015-03-10"));
  ASSERT_EQ(old.status, 202) << old.body;
  const auto failed = wait(std::string(old.json().at("id").as_string()));
  ASSERT_EQ(failed.at("state").as_string(), "failed") << json::serialize(failed);
  EXPECT_EQ(failed.at("steps").at(1).at("state").as_string(), "undone");
  const std::string other(failed.at("steps").at(0).at("result").at("citizen_id").as_string());
  EXPECT_EQ(births(other), 0);
  EXPECT_EQ(announced("record-birth", other), 1);
  EXPECT_EQ(announced("void-birth", other), 1);
  std::filesystem::remove_all(dir);
}

/// The gateway and the connectors as `lgsp` processes: each is killed with SIGKILL while
/// procedures are in flight and started again; every procedure completes, and every
/// registry holds exactly one change per procedure.
TEST(ProcedureRestart, EveryStepAppliesOnceAfterTheGatewayAndAConnectorAreKilled) {
  auto options = with_procedures({.start_connector = false, .start_gateway = false});
  // The change feed on: each change reaches the gateway's copy once, killed or not.
  options.extra_yaml += "changes: {sqlite_path: @DIR@/changes.db}\n";
  TestStack stack(options);
  const auto& dir = stack.dir;
  const auto rows = [&dir] { return birth_rows(dir); };
  const auto before = rows();
  const auto states = [&dir](const char* state) {
    return count(dir / "procedures.db",
                 std::string("SELECT count(*) FROM procedures WHERE state = '") + state + "'");
  };

  const std::uint16_t api = free_port();
  const std::uint16_t admin = free_port();
  const auto gw_config = gateway_config(stack, api, admin, "gateway-procedures");
  const auto conn_config = stack.write_process_config();
  std::map<std::string, std::unique_ptr<ChildProcess>> connectors;
  const auto start_connector = [&](const std::string& registry, const std::string& n) {
    connectors[registry] = std::make_unique<ChildProcess>(
        std::vector<std::string>{"connector", "--config", conn_config.string(), "--registry",
                                 registry},
        dir / ("connector-" + registry + "-" + n + ".log"));
  };
  for (const char* r : {"population", "civil-status", "insurance"}) start_connector(r, "1");
  auto gateway = std::make_unique<ChildProcess>(
      std::vector<std::string>{"gateway", "--config", gw_config.string()}, dir / "gateway-1.log");
  wait_gateway_ready(admin);
  const auto joined_until = Clock::now() + std::chrono::seconds(30);
  for (const auto& [_, c] : connectors) {
    while (c->log_count("kafka_partitions_assigned") == 0 && Clock::now() < joined_until)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  // Four clients submit the procedures, each retrying its own Idempotency-Key until the
  // gateway answers (it is down for a while): a retried submission is the same procedure.
  constexpr int kProcedures = 300;
  constexpr int kClients = 4;
  std::atomic<int> submitted{0};
  std::vector<std::jthread> clients;
  clients.reserve(kClients);
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&submitted, api, c] {
      for (int i = c; i < kProcedures; i += kClients) {
        auto input = birth_input();
        input["child_full_name"] = "Trẻ Số " + std::to_string(i);
        for (int attempt = 0; attempt < 600; ++attempt) {
          try {
            const int status = start_birth(api, input, "restart-" + std::to_string(i)).status;
            if (status == 202 || status == 200) break;
          } catch (const std::exception&) {  // connection refused: the gateway is down
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        ++submitted;
      }
    });
  }
  const auto wait_submitted = [&submitted](int n) {
    const auto until = Clock::now() + std::chrono::seconds(120);
    while (submitted.load() < n && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  };

  // The gateway dies with procedures in flight; the next one goes on from the store.
  wait_submitted(kProcedures / 4);
  gateway->kill_hard();
  const auto unfinished_at_kill = states("running") + states("compensating");
  const auto at_gateway_kill = states("completed");
  gateway = std::make_unique<ChildProcess>(
      std::vector<std::string>{"gateway", "--config", gw_config.string()}, dir / "gateway-2.log");
  wait_gateway_ready(admin);

  // Then the population connector dies, with commands on their way to it or answers from it.
  wait_submitted(kProcedures / 2);
  connectors.at("population")->kill_hard();
  start_connector("population", "2");
  clients.clear();  // joins: every procedure submitted

  const auto until = Clock::now() + std::chrono::seconds(180);
  while (states("completed") < kProcedures && Clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(states("completed"), kProcedures)
      << states("running") << " running, " << states("compensating") << " compensating, "
      << states("failed") << " failed";
  EXPECT_GT(unfinished_at_kill, 0) << "no procedure was in flight when the gateway was killed";
  EXPECT_LT(at_gateway_kill, kProcedures);
  // One change per procedure in each registry: no command applied twice, none lost.
  const auto after = rows();
  for (std::size_t i = 0; i < after.size(); ++i)
    EXPECT_EQ(after.at(i) - before.at(i), kProcedures) << "registry " << i;
  for (const char* db : {"population.db", "civil-status.db", "insurance.db"})
    EXPECT_EQ(count(dir / db, "SELECT count(*) FROM applied_commands"), kProcedures) << db;
  // And every change in the feed once: the outboxes drained, the gateway's copy resumed.
  const auto feed_until = Clock::now() + std::chrono::seconds(30);
  while (count(dir / "changes.db", "SELECT count(*) FROM changes") < 3 * kProcedures &&
         Clock::now() < feed_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (const char* kind :
       {"population.register-newborn", "civil-status.record-birth", "insurance.issue-child-card"}) {
    EXPECT_EQ(count(dir / "changes.db", std::string("SELECT count(DISTINCT citizen_id) FROM "
                                                    "changes WHERE kind_key = '") +
                                            kind + "'"),
              kProcedures)
        << kind;
  }
  EXPECT_EQ(count(dir / "changes.db", "SELECT count(*) FROM changes"), 3 * kProcedures);
  // A connector deletes its acknowledged rows on its next poll, which may come after the
  // gateway has read the changes from the topic.
  for (const char* db : {"population.db", "civil-status.db", "insurance.db"}) {
    const auto drained_until = Clock::now() + std::chrono::seconds(10);
    while (count(dir / db, "SELECT count(*) FROM change_outbox") > 0 &&
           Clock::now() < drained_until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(count(dir / db, "SELECT count(*) FROM change_outbox"), 0) << db;
  }
}

/// Two gateways of a cluster share the procedure store (PostgreSQL): procedures started on one
/// are driven by it; when it is killed with SIGKILL with every one of them unfinished (held at
/// their last step while the insurance registry is down), the other takes them over once
/// their leases have run out and completes every one, each step applied exactly once, and a
/// retried submission at the survivor is the same procedure.
TEST(ProcedureCluster, TheSurvivorFinishesTheProceduresOfAKilledGateway) {
  if (!postgres_available()) GTEST_SKIP() << "LGSP_TEST_PG_DSN not set";
  TestStack stack(with_procedures({.start_gateway = false}));
  const TestSchema schema("lgsp_procedure_cluster");
  const auto& dir = stack.dir;
  const auto rows = [&dir] { return birth_rows(dir); };
  const auto before = rows();

  // Each replica: the stack's process config with no instance number and no procedure file,
  // but a cluster section (3 s leases).
  std::ifstream in(stack.write_process_config());
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string base = ss.str();
  struct Gateway {
    std::uint16_t api = free_port();
    std::uint16_t admin = free_port();
    std::unique_ptr<ChildProcess> process;
  };
  const auto start = [&](Gateway& g, const std::string& name) {
    std::string text = base;
    const auto cut = [&text](const std::string& from, const std::string& to) {
      const auto at = text.find(from);
      ASSERT_NE(at, std::string::npos) << from;
      text.replace(at, from.size(), to);
    };
    cut("  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\n  threads: 2\n  instance: 1\n",
        "  listen: 127.0.0.1:" + std::to_string(g.api) +
            "\n  admin_listen: 127.0.0.1:" + std::to_string(g.admin) + "\n  threads: 2\n");
    cut("  sqlite_path: " + (dir / "procedures.db").string() + "\n", "");
    text += "cluster:\n  store: {backend: postgres, postgres_dsn: '" + schema.dsn() +
            "'}\n  lease_ms: 3000\n";
    const auto config = dir / ("gateway-" + name + ".yaml");
    std::ofstream(config) << text;
    g.process = std::make_unique<ChildProcess>(
        std::vector<std::string>{"gateway", "--config", config.string()},
        dir / ("gateway-" + name + ".log"));
  };
  Gateway a;
  Gateway b;
  start(a, "a");
  start(b, "b");
  wait_gateway_ready(a.admin);
  wait_gateway_ready(b.admin);

  pqxx::connection db(schema.dsn());
  const auto procedures_where = [&db](const std::string& where) {
    pqxx::nontransaction q(db);
    return q.exec1("SELECT count(*) FROM procedures WHERE " + where)[0].as<std::int64_t>();
  };
  const auto unfinished = [&] { return procedures_where("state IN ('running', 'compensating')"); };

  // Every procedure is started on a, with the insurance registry down: each gets as far as
  // its last step, which a keeps retrying. Then a dies with all of them unfinished.
  stack.stop_connector("insurance");
  constexpr int kProcedures = 60;
  std::vector<std::string> ids;
  for (int i = 0; i < kProcedures; ++i) {
    auto input = birth_input();
    input["child_full_name"] = "Trẻ Cụm " + std::to_string(i);
    const auto r = start_birth(a.api, input, "cluster-" + std::to_string(i));
    ASSERT_EQ(r.status, 202) << r.body;
    ids.emplace_back(r.json().at("id").as_string());
  }
  const auto at_last_step = Clock::now() + std::chrono::seconds(60);
  while (procedures_where("cursor = 2") < kProcedures && Clock::now() < at_last_step)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(procedures_where("cursor = 2"), kProcedures);
  a.process->kill_hard();
  EXPECT_EQ(unfinished(), kProcedures);
  stack.start_connector("insurance");

  // b takes them over and completes them.
  const auto until = Clock::now() + std::chrono::seconds(120);
  while (unfinished() > 0 && Clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (const auto& id : ids) {
    const auto r = http_call(b.api, "GET", "/v1/procedures/" + id, {},
                             {{"Authorization", std::string("Bearer ") + kCommuneKey}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json().at("state").as_string(), "completed") << r.body;
  }
  // Each step applied once: one child, one birth, one card per procedure.
  const auto after = rows();
  for (std::size_t i = 0; i < after.size(); ++i)
    EXPECT_EQ(after.at(i) - before.at(i), kProcedures) << "registry " << i;
  for (const char* registry : {"population.db", "civil-status.db", "insurance.db"})
    EXPECT_EQ(count(dir / registry, "SELECT count(*) FROM applied_commands"), kProcedures);
  // The same submission at the survivor: the same procedure.
  auto input = birth_input();
  input["child_full_name"] = "Trẻ Cụm 7";
  const auto again = start_birth(b.api, input, "cluster-7");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json().at("id").as_string(), ids.at(7));
}

}  // namespace
}  // namespace lgsp::testing
