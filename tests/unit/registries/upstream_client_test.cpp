// The upstream client against the real stand-in (tests/standin, a child process on loopback)
// serving the gateway's own seeded population file. Faults are chosen by the stand-in's
// flags or by a `/__fault/SPEC` prefix in base_url; its GET /__stats counts what it served.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <mutex>
#include <thread>

#include "registries/backends/upstream.hpp"
#include "registries/population/sqlite_store.hpp"
#include "seed/seeder.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/pki.hpp"
#include "tests/support/standin.hpp"

namespace lgsp::registries::upstream {
namespace {

using testing::Standin;

namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kTokenVar = "LGSP_UPSTREAM_TEST_TOKEN";
constexpr const char* kWrongTokenVar = "LGSP_UPSTREAM_TEST_WRONG_TOKEN";

class UpstreamClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("lgsp-upstream-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    db_ = (dir_ / "population.db").string();
    seed::seed_registries(seed::sqlite_targets({{"population", db_}}), 300, 7);
    population::SqlitePopulationStore store(db_);
    citizens_ = store.samples(40);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  /// Fast and patient: retries without real sleeps, timeouts that a loaded machine meets.
  static Options options(const std::string& url) {
    Options o;
    o.base_url = url;
    o.timeout = milliseconds(10000);
    o.backoff = milliseconds(1);
    return o;
  }
  static Client::Hooks no_sleep() {
    Client::Hooks h;
    h.sleep = [](milliseconds) {};
    return h;
  }
  static const domain::CitizenRecord& subject() { return citizens_.at(0); }
  static std::string path_of(const std::string& id) { return "/api/v2/cong-dan/" + id; }

  /// A failure's message names the kind of trouble and never the path or the ID in it.
  static void expect_private(const Outcome& o, const std::string& id) {
    EXPECT_FALSE(o.ok());
    EXPECT_EQ(o.message.rfind("upstream GET", 0), 0u) << o.message;
    EXPECT_EQ(o.message.find(id), std::string::npos) << o.message;
    EXPECT_EQ(o.message.find("cong-dan"), std::string::npos) << o.message;
  }

  static inline fs::path dir_;
  static inline std::string db_;
  static inline std::vector<domain::CitizenRecord> citizens_;
};

std::string ministry_date(const std::string& iso) {
  return iso.substr(8, 2) + "/" + iso.substr(5, 2) + "/" + iso.substr(0, 4);
}

TEST_F(UpstreamClientTest, FindsTheSeededRecordInTheMinistrysShape) {
  Standin standin(dir_, db_);
  Client client(options(standin.url()));
  const auto& c = subject();
  const Outcome o = client.get_json(path_of(c.citizen_id));
  ASSERT_TRUE(o.found()) << o.message;
  EXPECT_EQ(o.status, 200);
  EXPECT_EQ(o.attempts, 1);
  const json::object& data = o.json.at("data").as_object();
  EXPECT_EQ(data.at("soDinhDanh").as_string(), c.citizen_id);
  EXPECT_EQ(data.at("hoVaTen").as_string(), c.full_name);
  EXPECT_EQ(data.at("ngaySinh").as_string(), ministry_date(c.date_of_birth));
  EXPECT_EQ(data.at("gioiTinh").as_string(), c.gender == "male" ? "Nam" : "Nữ");
  EXPECT_EQ(data.at("queQuan").as_string(), c.place_of_origin);
  EXPECT_EQ(data.at("noiThuongTru").at("tinh").as_string(), c.province);
  EXPECT_EQ(data.at("noiThuongTru").at("xa").as_string(), c.commune);
  EXPECT_EQ(data.at("ngayCapCccd").as_string(), ministry_date(c.id_card_issue_date));
}

TEST_F(UpstreamClientTest, FindsByTheOldCardNumberToo) {
  Standin standin(dir_, db_);
  Client client(options(standin.url()));
  const auto it = std::find_if(citizens_.begin(), citizens_.end(),
                               [](const auto& c) { return !c.legacy_id_number.empty(); });
  ASSERT_NE(it, citizens_.end()) << "the seed gave no sampled citizen an old card";
  const Outcome o = client.get_json("/api/v2/cong-dan/cmnd/" + it->legacy_id_number);
  ASSERT_TRUE(o.found()) << o.message;
  EXPECT_EQ(o.json.at("data").at("soDinhDanh").as_string(), it->citizen_id);
  EXPECT_EQ(o.json.at("data").at("soCmnd").as_string(), it->legacy_id_number);
}

TEST_F(UpstreamClientTest, NotFoundIsAnAnswerNotAFailure) {
  Standin standin(dir_, db_);
  Options opt = options(standin.url());
  opt.breaker_failures = 2;
  Client client(opt);
  for (int i = 0; i < 4; ++i) {
    const Outcome o = client.get_json(path_of("001099999999"));
    EXPECT_TRUE(o.not_found()) << o.message;
    EXPECT_FALSE(o.found());
    EXPECT_EQ(o.status, 404);
    EXPECT_EQ(o.attempts, 1);
  }
  EXPECT_EQ(client.stats().breaker, CircuitBreaker::State::kClosed);
  EXPECT_EQ(standin.requests(), 4);
}

TEST_F(UpstreamClientTest, AnHtml404IsNotTheApiSayingNotFound) {
  Standin standin(dir_, db_);
  Client client(options(standin.url("status=404,wrong-type")));
  const Outcome o = client.get_json(path_of(subject().citizen_id));
  ASSERT_EQ(o.failure, Failure::kMalformed) << o.message;
  EXPECT_NE(o.message.find("check that base_url points at the API"), std::string::npos);
  expect_private(o, subject().citizen_id);
}

TEST_F(UpstreamClientTest, AMissingOrWrongTokenIsRejectedAndNotRetried) {
  // The tests of this binary run one at a time: nothing reads the environment meanwhile.
  ::setenv(kTokenVar, "s3cret-token", 1);        // NOLINT(concurrency-mt-unsafe)
  ::setenv(kWrongTokenVar, "not-the-token", 1);  // NOLINT(concurrency-mt-unsafe)
  Standin standin(dir_, db_, {"--token-env", kTokenVar});
  const std::string id = subject().citizen_id;
  {
    Client without(options(standin.url()));
    const Outcome o = without.get_json(path_of(id));
    EXPECT_EQ(o.failure, Failure::kRejected);
    EXPECT_EQ(o.status, 401);
    EXPECT_EQ(o.attempts, 1);
    expect_private(o, id);
  }
  Options wrong = options(standin.url());
  wrong.bearer_token_env = kWrongTokenVar;
  const Outcome o = Client(wrong).get_json(path_of(id));
  EXPECT_EQ(o.failure, Failure::kRejected);
  EXPECT_EQ(o.attempts, 1);
  EXPECT_NE(o.message.find(kWrongTokenVar), std::string::npos) << o.message;
  EXPECT_EQ(o.message.find("not-the-token"), std::string::npos) << o.message;
  expect_private(o, id);
  EXPECT_EQ(standin.requests(), 2);

  Options right = options(standin.url());
  right.bearer_token_env = kTokenVar;
  EXPECT_TRUE(Client(right).get_json(path_of(id)).found());
}

TEST_F(UpstreamClientTest, ASlowUpstreamTimesOutWithinTheAttemptsDeadlines) {
  Standin standin(dir_, db_);
  Options opt = options(standin.url("slow=20000"));
  opt.timeout = milliseconds(300);
  opt.max_attempts = 3;
  Client client(opt, no_sleep());
  const std::string id = subject().citizen_id;
  const auto start = SteadyClock::now();
  const Outcome o = client.get_json(path_of(id));
  const auto took = SteadyClock::now() - start;
  ASSERT_EQ(o.failure, Failure::kTimeout) << o.message;
  EXPECT_GE(o.attempts, 2);  // a timeout is retried
  EXPECT_LE(o.attempts, 3);
  EXPECT_GE(took, milliseconds(300));
  // timeout × attempts, plus slack for a loaded machine; far below the stand-in's 20 s.
  EXPECT_LT(took, milliseconds(300 * 3 + 6000));
  expect_private(o, id);

  // A caller's earlier deadline wins over timeout × attempts.
  opt.timeout = milliseconds(8000);
  Client patient(opt, no_sleep());
  const auto again = SteadyClock::now();
  const Outcome d = patient.get_json(path_of(id), SteadyClock::now() + milliseconds(300));
  EXPECT_EQ(d.failure, Failure::kTimeout);
  EXPECT_EQ(d.attempts, 1);
  EXPECT_LT(SteadyClock::now() - again, milliseconds(7000));
  EXPECT_EQ(patient.get_json(path_of(id), SteadyClock::now()).attempts, 0);  // already past
}

TEST_F(UpstreamClientTest, TransientFailuresAreRetriedWithJitteredBackoff) {
  Standin standin(dir_, db_, {"--fail-first", "2"});
  Options opt = options(standin.url());
  opt.backoff = milliseconds(40);
  std::vector<milliseconds> pauses;
  Client::Hooks hooks;
  hooks.sleep = [&](milliseconds d) { pauses.push_back(d); };
  hooks.random = [] { return 0.0; };  // the shortest pause the jitter allows
  Client client(opt, hooks);
  const Outcome o = client.get_json(path_of(subject().citizen_id));
  ASSERT_TRUE(o.found()) << o.message;
  EXPECT_EQ(o.attempts, 3);
  EXPECT_EQ(client.stats().retries, 2);
  EXPECT_EQ(pauses, (std::vector<milliseconds>{milliseconds(20), milliseconds(40)}));
  EXPECT_EQ(standin.requests(), 3);
}

TEST_F(UpstreamClientTest, PersistentUnavailabilityOpensTheBreakerWhichFailsFast) {
  Standin standin(dir_, db_, {"--fault", "status=503"});
  Options opt = options(standin.url());
  opt.breaker_failures = 2;
  opt.breaker_open_for = milliseconds(600000);
  Client client(opt, no_sleep());
  const std::string id = subject().citizen_id;
  for (int i = 0; i < 2; ++i) {
    const Outcome o = client.get_json(path_of(id));
    EXPECT_EQ(o.failure, Failure::kUnavailable) << o.message;
    EXPECT_EQ(o.status, 503);
    EXPECT_EQ(o.attempts, 3);
    expect_private(o, id);
  }
  EXPECT_EQ(standin.requests(), 6);
  const Outcome o = client.get_json(path_of(id));
  EXPECT_EQ(o.failure, Failure::kCircuitOpen);
  EXPECT_EQ(o.attempts, 0);
  expect_private(o, id);
  EXPECT_EQ(standin.requests(), 6);  // the breaker did not call
  const Stats s = client.stats();
  EXPECT_EQ(s.breaker, CircuitBreaker::State::kOpen);
  EXPECT_EQ(s.short_circuited, 1);
  EXPECT_EQ(s.breaker_opened, 1);
}

TEST_F(UpstreamClientTest, TheHalfOpenProbeIsOneRequestThatClosesOrReopens) {
  // Three 503s: two open the breaker, the third fails the first probe.
  Standin standin(dir_, db_, {"--fail-first", "3"});
  Options opt = options(standin.url());
  opt.breaker_failures = 2;
  opt.max_attempts = 1;
  opt.breaker_open_for = milliseconds(5000);
  SteadyTime now{std::chrono::hours(1)};
  Client::Hooks hooks = no_sleep();
  hooks.now = [&] { return now; };
  Client client(opt, hooks);
  const std::string path = path_of(subject().citizen_id);
  EXPECT_EQ(client.get_json(path).failure, Failure::kUnavailable);
  EXPECT_EQ(client.get_json(path).failure, Failure::kUnavailable);
  EXPECT_EQ(client.get_json(path).failure, Failure::kCircuitOpen);
  now += milliseconds(5000);
  const Outcome probe = client.get_json(path);
  EXPECT_EQ(probe.failure, Failure::kUnavailable);
  EXPECT_EQ(probe.attempts, 1);
  EXPECT_EQ(client.get_json(path).failure, Failure::kCircuitOpen);
  EXPECT_EQ(standin.requests(), 3);
  now += milliseconds(5000);
  EXPECT_TRUE(client.get_json(path).found());  // the probe succeeds: closed again
  EXPECT_TRUE(client.get_json(path).found());
  EXPECT_EQ(client.stats().breaker, CircuitBreaker::State::kClosed);
  EXPECT_EQ(standin.requests(), 5);
}

TEST_F(UpstreamClientTest, AnswersThatAreNotWholeJsonAreMalformedAndNotRetried) {
  Standin standin(dir_, db_);
  const std::string id = subject().citizen_id;
  const std::pair<const char*, const char*> cases[] = {
      {"malformed", "a body that is not JSON"},
      {"wrong-type", "content type text/html, not JSON"},
      {"truncated", "connection dropped while receiving from"},
      {"oversize", "larger than 1 MiB"},
  };
  for (const auto& [fault, says] : cases) {
    SCOPED_TRACE(fault);
    Client client(options(standin.url(fault)), no_sleep());
    const Outcome o = client.get_json(path_of(id));
    EXPECT_EQ(o.failure, Failure::kMalformed) << o.message;
    EXPECT_EQ(o.attempts, 1);
    EXPECT_NE(o.message.find(says), std::string::npos) << o.message;
    expect_private(o, id);
  }
  EXPECT_EQ(standin.requests(), 4);
}

TEST_F(UpstreamClientTest, ResetsAndRefusedConnectionsAreUnavailableAfterRetries) {
  Standin standin(dir_, db_);
  const std::string id = subject().citizen_id;
  Client reset(options(standin.url("reset")), no_sleep());
  const Outcome r = reset.get_json(path_of(id));
  EXPECT_EQ(r.failure, Failure::kUnavailable) << r.message;
  EXPECT_EQ(r.attempts, 3);
  expect_private(r, id);
  EXPECT_EQ(standin.requests(), 3);

  const std::uint16_t closed = testing::free_port();
  Client refused(options("http://127.0.0.1:" + std::to_string(closed)), no_sleep());
  const Outcome c = refused.get_json(path_of(id));
  EXPECT_EQ(c.failure, Failure::kUnavailable) << c.message;
  EXPECT_EQ(c.attempts, 3);
  EXPECT_NE(c.message.find("cannot connect to 127.0.0.1:"), std::string::npos) << c.message;
  expect_private(c, id);
}

TEST_F(UpstreamClientTest, TheRetryBudgetBoundsRetriesUnderSustainedFailure) {
  Standin standin(dir_, db_, {"--fault", "status=503"});
  Options opt = options(standin.url());
  opt.breaker_failures = 1000;  // only the budget limits here
  opt.retry_budget = 0.2;
  opt.retry_floor = 1;
  opt.max_attempts = 3;
  Client::Hooks hooks = no_sleep();
  const SteadyTime frozen{std::chrono::hours(1)};  // one window for the whole test
  hooks.now = [frozen] { return frozen; };
  Client client(opt, hooks);
  constexpr int kCalls = 20;
  for (int i = 0; i < kCalls; ++i) {
    EXPECT_EQ(client.get_json(path_of(subject().citizen_id)).failure, Failure::kUnavailable);
  }
  const Stats s = client.stats();
  // Without the budget: 3 × 20 = 60 requests. With it: 20 + at most 1 + 0.2 × 20.
  EXPECT_EQ(s.retries, 1 + kCalls / 5);
  EXPECT_GT(s.retries_denied, 0);
  EXPECT_EQ(standin.requests(), kCalls + s.retries);
  const Outcome last = client.get_json(path_of(subject().citizen_id));
  EXPECT_NE(last.message.find("the retry budget allows no more now"), std::string::npos)
      << last.message;
}

TEST_F(UpstreamClientTest, KeepsOneConnectionAliveAcrossCalls) {
  Standin standin(dir_, db_);
  Client client(options(standin.url()));
  for (const auto& c : citizens_) ASSERT_TRUE(client.get_json(path_of(c.citizen_id)).found());
  EXPECT_EQ(standin.requests(), static_cast<std::int64_t>(citizens_.size()));
  EXPECT_EQ(standin.connections(), 1 + 2);  // ours, and the two /__stats calls' own
}

TEST_F(UpstreamClientTest, AKeptConnectionTheUpstreamClosedIsReplacedUnnoticed) {
  Standin standin(dir_, db_, {"--keep-alive-ms", "100"});
  Client client(options(standin.url()));
  const std::string path = path_of(subject().citizen_id);
  ASSERT_TRUE(client.get_json(path).found());
  // Until the stand-in has closed our idle connection: only the asking one is open.
  const auto give_up = SteadyClock::now() + std::chrono::seconds(60);
  while (standin.open() > 1 && SteadyClock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_EQ(standin.open(), 1);
  const Outcome o = client.get_json(path);
  EXPECT_TRUE(o.found()) << o.message;
  EXPECT_EQ(o.attempts, 1);  // sent again on a fresh connection inside one attempt
  EXPECT_EQ(client.stats().retries, 0);
  EXPECT_EQ(standin.requests(), 2);
}

TEST_F(UpstreamClientTest, ThreadsShareOneClient) {
  Standin standin(dir_, db_);
  Client client(options(standin.url()));
  std::mutex mu;
  int found = 0;
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const bool ok = client.get_json(path_of(citizens_.at(t * 10 + i).citizen_id)).found();
        const std::lock_guard lock(mu);
        found += ok ? 1 : 0;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(found, 40);
  EXPECT_EQ(client.stats().attempts, 40);
  EXPECT_EQ(standin.requests(), 40);
  EXPECT_LE(standin.connections(), 4 + 2);  // at most one per thread, plus the two /__stats
}

TEST_F(UpstreamClientTest, PathsThatCouldSmuggleAHeaderAreNotSent) {
  Standin standin(dir_, db_);
  Client client(options(standin.url()));
  for (const char* bad : {"api/v2/cong-dan/1", "/api/v2/cong-dan/1 HTTP/1.1", "/a\r\nX-Evil: 1"}) {
    const Outcome o = client.get_json(bad);
    EXPECT_EQ(o.failure, Failure::kRejected);
    EXPECT_EQ(o.attempts, 0);
  }
  EXPECT_EQ(standin.requests(), 0);
}

TEST_F(UpstreamClientTest, MutualTlsWithTheStandin) {
  const auto pki = testing::make_test_pki(dir_ / "pki");
  Standin standin(
      dir_, db_,
      {"--tls-cert", pki.server_cert, "--tls-key", pki.server_key, "--client-ca", pki.ca_cert});
  Options opt = options("https://localhost:" + std::to_string(standin.port()));
  opt.ca_file = pki.ca_cert;
  opt.cert_file = pki.client_cert;
  opt.key_file = pki.client_key;
  const std::string id = subject().citizen_id;
  EXPECT_TRUE(Client(opt).get_json(path_of(id)).found());

  // Without a client certificate, or with one from a CA the ministry does not trust: no answer.
  for (const bool rogue : {false, true}) {
    SCOPED_TRACE(rogue ? "rogue certificate" : "no certificate");
    Options other = opt;
    other.cert_file = rogue ? pki.rogue_cert : "";
    other.key_file = rogue ? pki.rogue_key : "";
    const Outcome o = Client(other, no_sleep()).get_json(path_of(id));
    EXPECT_TRUE(o.failure == Failure::kRejected || o.failure == Failure::kUnavailable) << o.message;
    expect_private(o, id);
  }
  // Our side checks the ministry's certificate: not the CA that issued it, no answer.
  Options untrusting = opt;
  untrusting.ca_file = pki.rogue_cert;
  const Outcome u = Client(untrusting).get_json(path_of(id));
  EXPECT_EQ(u.failure, Failure::kRejected) << u.message;
  EXPECT_EQ(u.attempts, 1);
  EXPECT_NE(u.message.find("check ca_file"), std::string::npos) << u.message;
}

}  // namespace
}  // namespace lgsp::registries::upstream
