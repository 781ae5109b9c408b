// The change feed over the real stack: a death procedure's commands change the registries,
// each registry's connector sends the changes from its outbox to the changes topic, the
// gateway keeps them, and a partner reads exactly the kinds it is granted, minimised to the
// members granted, in order, resumable from its cursor after the gateway restarts; every
// delivery is in the citizen's access log; a change not sealed by the registry it names
// never reaches a feed.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "bus/envelope.hpp"
#include "bus/producer.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/procedures.hpp"
#include "tests/support/scripted_server.hpp"
#include "tests/support/stack.hpp"
#include "util/clock.hpp"
#include "util/hashing.hpp"
#include "util/sealing.hpp"
#include "util/sqlite.hpp"

namespace lgsp::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kCommuneKey = "test-commune-key";
constexpr const char* kPowerKey = "test-electricity-key";
constexpr const char* kBankKey = "test-bank-key";

StackOptions feed_stack() {
  StackOptions o;
  // The procedures of config/dev.yaml and a change feed.
  o.extra_yaml = std::string(kProceduresYaml) +
                 "changes:\n  sqlite_path: @DIR@/changes.db\n  max_wait_s: 10\n";
  o.extra_partners = "  - id: commune\n    api_key_sha256: [" + util::sha256_hex(kCommuneKey) +
                     "]\n    operations: [procedure.death-registration]\n"
                     "  - id: electricity\n    api_key_sha256: [" +
                     util::sha256_hex(kPowerKey) +
                     "]\n    purposes: [customer-account-closure]\n"
                     "    changes:\n      civil-status.record-death: [date_of_death]\n"
                     "      population.deregister-residence: []\n"
                     "  - id: bank\n    api_key_sha256: [" +
                     util::sha256_hex(kBankKey) +
                     "]\n    purposes: [credit-file-update]\n"
                     "    changes: {insurance.grant-funeral-allowance: [amount_vnd]}\n";
  return o;
}

/// A seeded citizen with an insurance card of one of `groups` (SQL list) and no death.
std::string insured(const TestStack& stack, const std::string& groups, int skip = 0) {
  auto conn = sqlite::open((stack.dir / "insurance.db").string(), SQLITE_OPEN_READONLY);
  sqlite::exec(conn.get(),
               ("ATTACH '" + (stack.dir / "civil-status.db").string() + "' AS cs;").c_str());
  auto s = sqlite::prepare(
      conn.get(),
      "SELECT i.citizen_id FROM insurance i WHERE substr(i.health_insurance_card, 1, 2) IN (" +
          groups +
          ") AND i.coverage_start <= '2026-11-30' AND NOT EXISTS (SELECT 1 FROM"
          " cs.civil_events e WHERE e.citizen_id = i.citizen_id AND e.kind = 'death')"
          " ORDER BY i.citizen_id LIMIT 1 OFFSET " +
          std::to_string(skip));
  return sqlite3_step(s.get()) == SQLITE_ROW ? sqlite::column_text(s.get(), 0) : std::string();
}

/// Runs the death procedure for `citizen` to its end; returns its final state.
std::string register_death(const TestStack& stack, const std::string& citizen) {
  json::object body{{"purpose", "death-registration"},
                    {"input",
                     {{"citizen_id", citizen},
                      {"date_of_death", "2026-11-30"},
                      {"place_of_registration", "UBND phường Bến Nghé"}}}};
  const auto auth = std::string("Bearer ") + kCommuneKey;
  const auto r = http_call(stack.api_port(), "POST", "/v1/procedures/death-registration",
                           json::serialize(body),
                           {{"Authorization", auth}, {"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 202) << r.body;
  if (r.status != 202) return {};
  const std::string id(r.json().at("id").as_string());
  const auto until = Clock::now() + std::chrono::seconds(20);
  std::string state;
  while (Clock::now() < until) {
    const auto s =
        http_call(stack.api_port(), "GET", "/v1/procedures/" + id, {}, {{"Authorization", auth}});
    state = std::string(s.json().at("state").as_string());
    if (state == "completed" || state == "failed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return state;
}

HttpResult read_feed(const TestStack& stack, const char* key, const std::string& query) {
  return http_call(stack.api_port(), "GET", "/v1/changes?" + query, {},
                   {{"Authorization", std::string("Bearer ") + key}});
}

/// Reads the partner's feed from `after` until `n` changes came (or 20 s passed), one page
/// of `limit` at a time, following `next`. Returns the changes and the last cursor.
std::pair<json::array, std::string> collect(const TestStack& stack, const char* key,
                                            const std::string& purpose, std::size_t n,
                                            std::string after = {}, int limit = 100) {
  json::array got;
  const auto until = Clock::now() + std::chrono::seconds(20);
  while (got.size() < n && Clock::now() < until) {
    std::string q = "purpose=" + purpose + "&wait=2&limit=" + std::to_string(limit);
    if (!after.empty()) q += "&after=" + after;
    const auto r = read_feed(stack, key, q);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) break;
    const json::value v = r.json();
    for (const auto& c : v.at("changes").as_array()) got.push_back(c);
    if (v.at("next").is_string()) after = std::string(v.at("next").as_string());
  }
  return {got, after};
}

std::string member(const json::value& change, const char* key) {
  return std::string(change.at(key).as_string());
}

TEST(ChangeFeed, APartnerReadsOnlyItsKindsMinimisedInOrderAndResumesAfterARestart) {
  TestStack stack(feed_stack());
  const std::string pensioner = insured(stack, "'DN','HC','HT'");
  const std::string household = insured(stack, "'GD'");
  ASSERT_FALSE(pensioner.empty());
  ASSERT_FALSE(household.empty());
  ASSERT_EQ(register_death(stack, pensioner), "completed");
  // Refused at the allowance: its death and deregistration are taken back.
  ASSERT_EQ(register_death(stack, household), "failed");

  // Electricity: deaths and ended residences, and the undos of those (6 changes); never the
  // allowance, never the members it was not granted.
  auto [power, cursor] = collect(stack, kPowerKey, "customer-account-closure", 6);
  ASSERT_EQ(power.size(), 6U) << json::serialize(power);
  std::vector<std::string> kinds;
  std::int64_t last = -1;
  for (const auto& c : power) {
    kinds.push_back(member(c, "registry") + "." + member(c, "kind") + ":" +
                    (member(c, "citizen_id") == pensioner ? "p" : "h"));
    const std::int64_t at = std::stoll(member(c, "cursor"));
    EXPECT_GT(at, last) << "out of order";
    last = at;
    const auto& data = c.at("data").as_object();
    if (member(c, "kind") == "record-death") {
      EXPECT_EQ(data.size(), 1U) << json::serialize(c);
      EXPECT_EQ(data.at("date_of_death").as_string(), "2026-11-30");
    } else {
      EXPECT_TRUE(data.empty()) << json::serialize(c);
    }
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{
                       "civil-status.record-death:p", "population.deregister-residence:p",
                       "civil-status.record-death:h", "population.deregister-residence:h",
                       "population.restore-residence:h", "civil-status.void-death:h"}));
  // An undo names the change it takes back.
  EXPECT_EQ(member(power.at(4), "voids"), member(power.at(3), "id"));
  EXPECT_EQ(member(power.at(5), "voids"), member(power.at(2), "id"));

  // The bank: the allowance only, with its amount and nothing else.
  const auto [bank, _] = collect(stack, kBankKey, "credit-file-update", 1);
  ASSERT_EQ(bank.size(), 1U) << json::serialize(bank);
  EXPECT_EQ(member(bank.at(0), "kind"), "grant-funeral-allowance");
  EXPECT_EQ(bank.at(0).at("data"), (json::object{{"amount_vnd", "23400000"}}));

  // Every delivery is in the citizen's access log, under the partner that read it.
  ASSERT_GE(stack.wait_for_audit(1), 1);
  const auto until = Clock::now() + std::chrono::seconds(10);
  bool logged = false;
  while (!logged && Clock::now() < until) {
    const auto log = stack.access_log(pensioner);
    ASSERT_EQ(log.status, 200) << log.body;
    const json::value entries = log.json();
    for (const auto& a : entries.at("accesses").as_array())
      logged |= a.at("partner_id") == "electricity" && a.at("operation") == "changes.read";
    if (!logged) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(logged);

  // Paging one by one from the start gives the same changes; after a restart of the gateway
  // the feed resumes from a cursor with nothing lost and nothing repeated.
  const auto [first_two, mid] = collect(stack, kPowerKey, "customer-account-closure", 2, {}, 1);
  ASSERT_EQ(first_two.size(), 2U);
  EXPECT_EQ(first_two.at(1).at("id"), power.at(1).at("id"));
  // A long-poll waiting when the gateway stops is answered (empty) rather than cut off.
  HttpResult waiting;
  Clock::time_point answered{};
  std::thread poll([&] {
    try {
      waiting =
          read_feed(stack, kPowerKey, "purpose=customer-account-closure&wait=10&after=" + cursor);
    } catch (const std::exception& e) {
      waiting.body = e.what();  // the connection was cut: status stays 0
    }
    answered = Clock::now();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto stopping = Clock::now();
  stack.gateway.reset();
  poll.join();
  EXPECT_EQ(waiting.status, 200) << waiting.body;
  EXPECT_LT(answered - stopping, std::chrono::seconds(3));
  obs::Metrics fresh("test-restarted");
  stack.gateway = std::make_unique<gateway::Gateway>(stack.cfg, stack.bootstrap, fresh);
  stack.gateway->start();
  const auto [rest, end] = collect(stack, kPowerKey, "customer-account-closure", 4, mid);
  ASSERT_EQ(rest.size(), 4U) << json::serialize(rest);
  for (std::size_t i = 0; i < rest.size(); ++i)
    EXPECT_EQ(rest.at(i).at("id"), power.at(i + 2).at("id"));
  EXPECT_EQ(end, cursor);
  stack.gateway.reset();
}

TEST(ChangeFeed, AChangeNotSealedByTheRegistryItNamesReachesNoFeed) {
  TestStack stack(feed_stack());
  const std::string topic = bus::Topics{stack.cfg.kafka.topic_prefix}.changes();
  bus::Producer producer({{"bootstrap.servers", stack.bootstrap}},
                         bus::Producer::Polling::kBackground);
  const std::string victim = insured(stack, "'DN','HC','HT'");
  bus::v1::ChangeEvent forged;
  forged.set_event_id("chg-0123456789abcdef0123456789abcdef");
  forged.set_registry("civil-status");
  forged.set_kind("record-death");
  forged.set_citizen_id(victim);
  forged.set_time_unix_ms(1);
  (*forged.mutable_data())["date_of_death"] = "2026-11-30";
  // Plain, and sealed with the vehicle registry's key (a connector speaking for another).
  ASSERT_FALSE(producer.produce(topic, 0, {}, bus::encode(forged), {}, {}));
  const util::Sealer vehicle(util::read_seal_keys((stack.dir / "bus-keys").string()), {});
  ASSERT_FALSE(producer.produce(
      topic, 0, {}, vehicle.seal("vehicle", bus::change_context(topic), bus::encode(forged)), {},
      {}));
  ASSERT_TRUE(producer.flush(std::chrono::seconds(5)));
  // A real death after them: the feed has it, and only it.
  const std::string real = insured(stack, "'DN','HC','HT'", 1);
  ASSERT_EQ(register_death(stack, real), "completed");
  const auto [got, _] = collect(stack, kPowerKey, "customer-account-closure", 2);
  ASSERT_EQ(got.size(), 2U) << json::serialize(got);
  for (const auto& c : got) EXPECT_EQ(member(c, "citizen_id"), real);

  // Bad requests name the parameter; no grant, no feed.
  const auto bad =
      read_feed(stack, kPowerKey, "purpose=customer-account-closure&after=-3&limit=0&x=1");
  ASSERT_EQ(bad.status, 400) << bad.body;
  std::set<std::string> fields;
  const json::value problem = bad.json();
  for (const auto& e : problem.at("errors").as_array())
    fields.insert(std::string(e.at("field").as_string()));
  EXPECT_EQ(fields, (std::set<std::string>{"after", "limit", "x"}));
  EXPECT_EQ(read_feed(stack, kPowerKey, "after=0").status, 400);
  EXPECT_EQ(read_feed(stack, kPowerKey, "purpose=marketing").status, 403);
  EXPECT_EQ(read_feed(stack, kMinistryKey, "purpose=integration-test").status, 403);
}

/// A partner with a webhook gets its feed pushed: the same minimised changes, signed with
/// its secret, retried (same delivery id, same changes) until its server answers 2xx, each
/// attempt audited before it leaves, and not sent again once answered.
TEST(ChangeFeed, AWebhookGetsItsChangesSignedAndRetriedUntilAnswered) {
  namespace bhttp = boost::beast::http;
  constexpr const char* kSecret = "test-webhook-secret-of-at-least-32-characters";
  ::setenv("LGSP_TEST_WEBHOOK_SECRET", kSecret, 1);
  // The partner's server is down twice, then takes the delivery.
  ScriptedServer receiver([](const Seen&, int n) -> Reply {
    bhttp::response<bhttp::string_body> r{
        n < 2 ? bhttp::status::service_unavailable : bhttp::status::no_content, 11};
    r.set(bhttp::field::connection, "close");
    return r;
  });
  auto options = feed_stack();
  options.extra_partners += "  - id: water\n    api_key_sha256: [" +
                            util::sha256_hex("test-water-key") +
                            "]\n    purposes: [customer-account-closure]\n"
                            "    changes:\n      civil-status.record-death: [date_of_death]\n"
                            "      population.deregister-residence: []\n"
                            "    webhook:\n      url: http://127.0.0.1:" +
                            std::to_string(receiver.port()) +
                            "/hooks/lgsp\n      secret_env: LGSP_TEST_WEBHOOK_SECRET\n"
                            "      purpose: customer-account-closure\n";
  TestStack stack(options);
  const std::string pensioner = insured(stack, "'DN','HC','HT'");
  ASSERT_EQ(register_death(stack, pensioner), "completed");

  // The death's two changes may reach the gateway's feed store in one batch or in two, so
  // they may go out as one delivery or two: wait until the answered deliveries carry both.
  // The first delivery is refused twice, so the first three POSTs are that one delivery.
  const auto answered_changes = [](const std::vector<Seen>& posts) {
    json::array changes;
    for (std::size_t i = 2; i < posts.size(); ++i) {
      const json::value body = json::parse(posts[i].body);  // outlives the loop below
      for (const auto& c : body.at("changes").as_array()) changes.push_back(c);
    }
    return changes;
  };
  const auto until = Clock::now() + std::chrono::seconds(30);
  std::vector<Seen> seen;
  while (Clock::now() < until) {
    seen = receiver.seen();
    if (seen.size() >= 3 && answered_changes(seen).size() >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(seen.size(), 3U);
  const util::HmacSha256 secret(kSecret);
  std::set<std::string> delivery_ids;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    const auto& s = seen[i];
    EXPECT_EQ(s.method, "POST");
    EXPECT_EQ(s.target, "/hooks/lgsp");
    // The signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
    const std::string sig = s.headers.at("X-LGSP-Signature");
    const auto comma = sig.find(",v1=");
    ASSERT_EQ(sig.substr(0, 2), "t=") << sig;
    ASSERT_NE(comma, std::string::npos) << sig;
    const std::string t = sig.substr(2, comma - 2);
    const auto mac = secret.digest(t + "." + s.body);
    EXPECT_EQ(sig.substr(comma + 4), util::to_hex(mac.data(), mac.size()));
    EXPECT_LE(std::abs(std::stoll(t) - util::unix_ms_now() / 1000), 60);
    EXPECT_EQ(json::parse(s.body).at("purpose"), "customer-account-closure");
    delivery_ids.insert(s.headers.at("X-LGSP-Delivery"));
    // A retry is the same delivery, with the same changes.
    if (i < 3) {
      EXPECT_EQ(s.headers.at("X-LGSP-Delivery"), seen[0].headers.at("X-LGSP-Delivery"));
      EXPECT_EQ(json::parse(s.body).at("changes"), json::parse(seen[0].body).at("changes"));
    }
  }
  EXPECT_EQ(delivery_ids.size(), seen.size() - 2) << "an answered delivery was sent again";
  const json::array changes = answered_changes(seen);
  ASSERT_EQ(changes.size(), 2U) << json::serialize(changes);
  EXPECT_EQ(member(changes[0], "kind"), "record-death");
  EXPECT_EQ(changes[0].at("data"), (json::object{{"date_of_death", "2026-11-30"}}));
  EXPECT_EQ(member(changes[1], "kind"), "deregister-residence");
  EXPECT_TRUE(changes[1].at("data").as_object().empty());
  for (const auto& c : changes) EXPECT_EQ(member(c, "citizen_id"), pensioner);

  // Answered: not sent again; the cursor is kept for the next start.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const std::size_t posts = receiver.seen().size();
  EXPECT_EQ(posts, seen.size());
  // Past its two changes and past the allowance (offset 2), a kind it does not read.
  EXPECT_EQ(std::stoll(member(changes[1], "cursor")), 1);
  const auto stored_cursor = [&] {
    auto db = sqlite::open((stack.dir / "changes.db").string(), SQLITE_OPEN_READONLY);
    auto cursor = sqlite::prepare(db.get(),
                                  "SELECT after FROM webhook_cursors WHERE partner_id = "
                                  "'water'");
    return sqlite3_step(cursor.get()) == SQLITE_ROW ? sqlite3_column_int64(cursor.get(), 0)
                                                    : std::int64_t{-1};
  };
  const auto cursor_until = Clock::now() + std::chrono::seconds(10);
  while (stored_cursor() != 2 && Clock::now() < cursor_until)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(stored_cursor(), 2);
  const auto metrics = http_call(stack.admin_port(), "GET", "/metrics", "", {});
  EXPECT_NE(metrics.body.find("lgsp_changes_webhook_deliveries_total{outcome=\"refused\","
                              "partner=\"water\"} 2"),
            std::string::npos);

  // Each attempt is in the citizen's access log (its audit event was durable before it left).
  const auto logged_until = Clock::now() + std::chrono::seconds(10);
  const int expected_attempts = static_cast<int>(posts);
  int attempts = 0;
  while (attempts < expected_attempts && Clock::now() < logged_until) {
    const auto log = stack.access_log(pensioner);
    ASSERT_EQ(log.status, 200) << log.body;
    const json::value entries = log.json();
    attempts = 0;
    for (const auto& a : entries.at("accesses").as_array())
      attempts += a.at("partner_id") == "water" && a.at("operation") == "changes.webhook" ? 1 : 0;
    if (attempts < expected_attempts) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(attempts, expected_attempts);

  // A reload that narrows the partner's grants narrows the next delivery: no more deaths.
  std::string narrowed = stack.yaml;
  const std::string grants =
      "      civil-status.record-death: [date_of_death]\n"
      "      population.deregister-residence: []\n    webhook:";
  const auto at = narrowed.rfind(grants);
  ASSERT_NE(at, std::string::npos);
  narrowed.replace(at, grants.size(), "      population.deregister-residence: []\n    webhook:");
  ASSERT_EQ(stack.reload(narrowed), "");
  const std::string second = insured(stack, "'DN','HC','HT'");
  ASSERT_NE(second, pensioner);
  ASSERT_EQ(register_death(stack, second), "completed");
  const auto next_until = Clock::now() + std::chrono::seconds(20);
  while (receiver.seen().size() < posts + 1 && Clock::now() < next_until)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(receiver.seen().size(), posts + 1);
  const json::value next = json::parse(receiver.seen()[posts].body);
  ASSERT_EQ(next.at("changes").as_array().size(), 1U) << json::serialize(next);
  EXPECT_EQ(member(next.at("changes").at(0), "kind"), "deregister-residence");
  EXPECT_EQ(member(next.at("changes").at(0), "citizen_id"), second);
}

}  // namespace
}  // namespace lgsp::testing
