// The population registry served by a ministry's own system (backend: upstream) through the
// whole stack: gateway, Kafka protocol, connector, the upstream client, and the stand-in
// (tests/standin, a real HTTP server on loopback) serving its own copy of the seeded
// citizens in the ministry's field names. Healthy, slow and malformed upstreams each give
// the partner a clear answer, never a wrong one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <memory>

#include "registries/civil_status/store.hpp"
#include "registries/population/sqlite_store.hpp"
#include "seed/seeder.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/stack.hpp"
#include "tests/support/standin.hpp"

namespace lgsp::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

/// How the connector reads the ministry's answers (its field names, its date form).
std::string upstream_yaml(const std::string& base_url, int timeout_ms) {
  return "{backend: upstream, upstream: {base_url: \"" + base_url +
         "\", timeout_ms: " + std::to_string(timeout_ms) +
         ", max_attempts: 2, breaker_failures: 3, breaker_open_ms: 60000,"
         " paths: {citizen_id: \"/api/v2/cong-dan/{value}\"},"
         " fields: {citizen_id: /data/soDinhDanh, full_name: /data/hoVaTen,"
         " date_of_birth: {from: /data/ngaySinh, date_format: DD/MM/YYYY},"
         " gender: {from: /data/gioiTinh, values: {Nam: male, \"Nữ\": female}},"
         " province: /data/noiThuongTru/tinh}}}";
}

class UpstreamRegistry : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("lgsp-upstream-it-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    // The ministry's data: the same synthetic citizens the stacks' other registries hold.
    const std::string db = (dir_ / "ministry.db").string();
    seed::seed_registries(seed::sqlite_targets({{"population", db}}), 2000, 11);
    standin_ = std::make_unique<Standin>(dir_, db);
    citizens_ = registries::population::SqlitePopulationStore(db).samples(5);
  }
  static void TearDownTestSuite() {
    standin_.reset();
    fs::remove_all(dir_);
  }
  static std::unique_ptr<TestStack> stack(const std::string& base_url, int timeout_ms = 2000) {
    return std::make_unique<TestStack>(
        StackOptions{.audit_writer = false,
                     .registries = {{"population", upstream_yaml(base_url, timeout_ms)}}});
  }
  static HttpResult post(const TestStack& s, const std::string& path, json::object body) {
    body["purpose"] = "integration-test";
    return post_json(s.api_port(), path, json::serialize(body), kMinistryKey);
  }

  static inline fs::path dir_;
  static inline std::unique_ptr<Standin> standin_;
  static inline std::vector<domain::CitizenRecord> citizens_;
};

TEST_F(UpstreamRegistry, AnswersFromTheMinistrysSystemAsFromOurOwnCopy) {
  const auto s = stack(standin_->url());
  const auto& c = citizens_.at(1);
  const auto before = standin_->requests();
  const auto v = post(*s, "/v1/population/verify",
                      {{"citizen_id", c.citizen_id},
                       {"full_name", c.full_name},
                       {"date_of_birth", c.date_of_birth},
                       {"gender", c.gender}});
  ASSERT_EQ(v.status, 200) << v.body;
  EXPECT_TRUE(v.json().at("match").as_bool()) << v.body;
  EXPECT_GT(standin_->requests(), before) << "the answer came from the upstream";

  const auto l = post(*s, "/v1/population/lookup",
                      {{"citizen_id", c.citizen_id}, {"fields", {"full_name", "date_of_birth"}}});
  ASSERT_EQ(l.status, 200) << l.body;
  EXPECT_EQ(l.json().at("record").at("full_name").as_string(), c.full_name);
  EXPECT_EQ(l.json().at("record").at("date_of_birth").as_string(), c.date_of_birth)
      << "DD/MM/YYYY upstream, ISO to the partner";

  const auto unknown = post(*s, "/v1/population/lookup", {{"citizen_id", "096399999999"}});
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  const auto legacy =
      post(*s, "/v1/population/verify", {{"citizen_id", "123456789"}, {"full_name", c.full_name}});
  EXPECT_EQ(legacy.status, 400) << "no legacy path configured: ask by citizen_id: " << legacy.body;
  EXPECT_EQ(legacy.json().at("type").as_string(), "urn:lgsp:problem:registry-rejected")
      << legacy.body;
}

TEST_F(UpstreamRegistry, ASlowUpstreamIsUnavailableAndTheBreakerStopsCallingIt) {
  const auto s = stack(standin_->url("slow=5000"), 200);
  const auto& c = citizens_.at(2);
  for (int i = 0; i < 3; ++i) {
    const auto r = post(*s, "/v1/population/verify",
                        {{"citizen_id", c.citizen_id}, {"full_name", c.full_name}});
    ASSERT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(r.json().at("type").as_string(), "urn:lgsp:problem:registry-unavailable") << r.body;
    EXPECT_EQ(r.body.find(c.full_name), std::string::npos);
  }
  // Three failed calls opened the breaker: the next ones fail fast, without a request.
  const auto before = standin_->requests();
  const auto r =
      post(*s, "/v1/population/verify", {{"citizen_id", c.citizen_id}, {"full_name", c.full_name}});
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(standin_->requests(), before) << "an open breaker sends nothing";
}

TEST_F(UpstreamRegistry, AMalformedAnswerIsARegistryErrorNeverAGuess) {
  for (const char* fault : {"malformed", "wrong-type", "truncated"}) {
    const auto s = stack(standin_->url(fault));
    const auto& c = citizens_.at(3);
    const auto r = post(*s, "/v1/population/lookup", {{"citizen_id", c.citizen_id}});
    EXPECT_EQ(r.status, 502) << fault << ": " << r.body;
    EXPECT_EQ(r.json().at("type").as_string(), "urn:lgsp:problem:registry-error") << r.body;
    EXPECT_EQ(r.body.find(c.full_name), std::string::npos) << fault;
  }
}

// Civil status from the Ministry of Justice's system: a list of registrations per citizen,
// mapped element by element (its kinds and states translated, its dates converted).
TEST_F(UpstreamRegistry, CivilStatusListsComeFromTheMinistryOfJusticeAsFromOurOwnCopy) {
  const std::string db = (dir_ / "justice.db").string();
  seed::seed_registries(seed::sqlite_targets({{"civil-status", db}}), 2000, 11);
  const Standin justice(dir_, "", {"--civil-status-db", db});
  const auto copy = registries::civil_status::open_sqlite_store(db);
  const auto s = std::make_unique<TestStack>(
      StackOptions{.audit_writer = false,
                   .registries = {{"civil-status", justice_registry_yaml(justice.url())}}});

  // A married citizen and a deceased one, as our own copy of the same data has them.
  std::string married, deceased;
  for (const auto& e : copy->samples(400)) {
    if (e.kind == "marriage" && married.empty()) married = e.citizen_id;
    if (e.kind == "death" && deceased.empty()) deceased = e.citizen_id;
  }
  ASSERT_FALSE(married.empty());
  ASSERT_FALSE(deceased.empty());
  // The registrar partner: civil status only, without registration numbers.
  const auto ask = [](const TestStack& st, const std::string& path, json::object body) {
    body["purpose"] = "integration-test";
    return post_json(st.api_port(), path, json::serialize(body), kRegistrarKey);
  };
  const auto l = ask(*s, "/v1/civil-status/lookup", {{"citizen_id", married}});
  ASSERT_EQ(l.status, 200) << l.body;
  const auto expected = copy->find_by_citizen(married).value();
  const json::value answer = l.json();
  const auto& events = answer.at("events").as_array();
  ASSERT_EQ(events.size(), expected.size()) << l.body;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto& e = events[i].as_object();
    EXPECT_EQ(e.at("kind").as_string(), expected[i].kind) << "oldest first, kinds translated";
    EXPECT_EQ(e.at("event_date").as_string(), expected[i].event_date) << "DD/MM/YYYY → ISO";
    EXPECT_FALSE(e.contains("registration_number")) << "not granted";
    EXPECT_EQ(e.at("status").as_string(), expected[i].status);
    if (expected[i].kind == "marriage") {
      EXPECT_EQ(e.at("spouse_citizen_id").as_string(), expected[i].spouse_citizen_id);
    }
  }
  std::string died_on;
  for (const auto& e : copy->find_by_citizen(deceased).value()) {
    if (e.kind == "death") died_on = e.event_date;
  }
  const auto v = ask(*s, "/v1/civil-status/verify",
                     {{"citizen_id", deceased}, {"deceased", true}, {"date_of_death", died_on}});
  ASSERT_EQ(v.status, 200) << v.body;
  EXPECT_TRUE(v.json().at("match").as_bool()) << v.body;

  // Nothing registered: the ministry answers an empty list, the partner a 404.
  const auto none = ask(*s, "/v1/civil-status/lookup", {{"citizen_id", "096399999999"}});
  EXPECT_EQ(none.status, 404) << none.body;

  // One registration the mapping cannot read fails the whole answer: no partial list.
  const auto bad = std::make_unique<TestStack>(StackOptions{
      .audit_writer = false,
      .registries = {{"civil-status", justice_registry_yaml(justice.url("malformed"))}}});
  const auto m = ask(*bad, "/v1/civil-status/lookup", {{"citizen_id", married}});
  EXPECT_EQ(m.status, 502) << m.body;
  EXPECT_EQ(m.body.find(married), std::string::npos);
}

}  // namespace
}  // namespace lgsp::testing
