// The scale-out test on one machine: the embedded Kafka-protocol cluster as an `lgsp broker`
// process, two `lgsp gateway` replicas sharing one PostgreSQL cluster store, two connector
// processes per registry, registries and the audit chain in PostgreSQL too. Each replica
// leases its own reply partition, either serves the other's bulk jobs, and when the one
// running a job is killed with SIGKILL mid-job, the other takes the job over once its lease
// has run out and completes it with exactly one right result per record. Meanwhile
// interactive verifications get a right answer from the survivor, and a right answer or a
// plain connection error from the replica being killed. A partner's daily quota and rate limit
// hold across both replicas.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "tests/support/child_process.hpp"
#include "tests/support/gateway_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/pg_schema.hpp"
#include "tests/support/stack.hpp"
#include "util/hashing.hpp"

namespace lgsp::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

/// One `lgsp gateway` replica: the stack's process config on ports of its own, with no
/// instance number and no job file, but the cluster section.
class Replica {
 public:
  Replica(const TestStack& stack, const TestSchema& schema, const std::string& name)
      : api(free_port()), admin(free_port()), config_(stack.dir / ("gateway-" + name + ".yaml")) {
    std::ifstream in(stack.write_process_config());
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    const auto replace = [&text](const std::string& from, const std::string& to) {
      const auto at = text.find(from);
      if (at == std::string::npos) throw std::runtime_error("unexpected stack config layout");
      text.replace(at, from.size(), to);
    };
    replace("  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\n  threads: 2\n  instance: 1\n",
            "  listen: 127.0.0.1:" + std::to_string(api) +
                "\n  admin_listen: 127.0.0.1:" + std::to_string(admin) + "\n  threads: 2\n");
    replace("  sqlite_path: " + (stack.dir / "batches.db").string() + "\n", "");
    text += "cluster:\n  store: {backend: postgres, postgres_dsn: '" + schema.dsn() +
            "'}\n  lease_ms: 12000\n";
    std::ofstream(config_) << text;
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"gateway", "--config", config_.string()},
        stack.dir / ("gateway-" + name + ".log"));
  }

  void kill_hard() { process_->kill_hard(); }
  int log_count(const std::string& text) const { return process_->log_count(text); }
  /// Its log lines that contain `text`.
  std::string log_lines(const std::string& text) const {
    std::istringstream log(process_->log_text());
    std::string out;
    for (std::string line; std::getline(log, line);) {
      if (line.find(text) != std::string::npos) out += line + "\n";
    }
    return out;
  }
  /// The reply partition its log says it leased (-1: none yet).
  int reply_partition() const {
    const std::string log = process_->log_text();
    const auto line = log.find("\"event\":\"reply_partition_claimed\"");
    if (line == std::string::npos) return -1;
    const std::string key = "\"partition\":";
    const auto at = log.find(key, line);
    return at == std::string::npos ? -1 : std::stoi(log.substr(at + key.size()));
  }

  const std::uint16_t api;
  const std::uint16_t admin;

 private:
  std::filesystem::path config_;
  std::unique_ptr<ChildProcess> process_;
};

/// Verifications, alternately true and false, against one replica until stopped; counts
/// right answers, wrong answers and failures (connection refused or a 5xx).
class InteractiveLoad {
 public:
  InteractiveLoad(const TestStack& stack, std::uint16_t api)
      : thread_([this, subjects = stack.subjects(200), api](const std::stop_token& stop) {
          for (std::size_t i = 0; !stop.stop_requested(); ++i) {
            const auto& s = subjects[i % subjects.size()];
            const bool truthful = i % 2 == 0;
            const std::string body = json::serialize(json::object{
                {"citizen_id", s.citizen_id},
                {"date_of_birth", truthful ? s.date_of_birth : std::string("1900-01-01")},
                {"purpose", "p"}});
            try {
              const auto r = post_json(api, "/v1/population/verify", body, kMinistryKey);
              if (r.status == 200 && r.json().at("match").as_bool() == truthful) {
                ++right;
              } else if (r.status >= 500) {
                ++failed;
              } else {
                ++wrong;
              }
            } catch (const std::exception&) {
              ++failed;  // the replica is gone: connection refused or reset
            }
            std::this_thread::sleep_for(20ms);
          }
        }) {}

  std::atomic<int> right{0};
  std::atomic<int> wrong{0};
  std::atomic<int> failed{0};

 private:
  std::jthread thread_;
};

constexpr const char* kMeteredKey = "test-metered-key";
constexpr int kMeteredQuota = 150;
constexpr const char* kPacedKey = "test-paced-key";
constexpr int kPacedRate = 10;   // requests a second, cluster-wide
constexpr int kPacedBurst = 20;  // tokens, cluster-wide

std::string partner(const std::string& id, const char* key, const std::string& limit) {
  return "  - id: " + id + "\n    api_key_sha256: [" + util::sha256_hex(key) +
         "]\n    operations: [population.verify]\n    " + limit + "\n";
}

/// Waits (up to 10 s) for the replica's lgsp_gateway_cluster_replicas gauge to show `n`.
bool counts_replicas(std::uint16_t admin, int n) {
  const std::string line = "lgsp_gateway_cluster_replicas " + std::to_string(n) + "\n";
  for (const auto until = std::chrono::steady_clock::now() + 10s;
       std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(100ms)) {
    if (http_call(admin, "GET", "/metrics").body.find(line) != std::string::npos) return true;
  }
  return false;
}

/// Verifications as `key`'s partner, alternately at each replica: how many each status.
std::map<int, int> alternate(const TestStack& stack, const char* key, std::uint16_t a,
                             std::uint16_t b, int requests) {
  const auto subjects = stack.subjects(50);
  std::map<int, int> statuses;
  for (int i = 0; i < requests; ++i) {
    const auto& s = subjects[static_cast<std::size_t>(i) % subjects.size()];
    const std::string body = json::serialize(json::object{
        {"citizen_id", s.citizen_id}, {"date_of_birth", s.date_of_birth}, {"purpose", "p"}});
    ++statuses[post_json(i % 2 == 0 ? a : b, "/v1/population/verify", body, key).status];
  }
  return statuses;
}

TEST(Cluster, TheSurvivingReplicaFinishesTheJobOfAKilledOne) {
  if (!postgres_available()) GTEST_SKIP() << "LGSP_TEST_PG_DSN not set (see with_postgres.sh)";
  // Registries and the audit chain in PostgreSQL too, the broker a process of its own.
  TestStack stack(
      {.start_connector = false,
       .citizens = 3000,
       .backend = "postgres",
       .extra_partners =
           partner("metered", kMeteredKey, "daily_quota: " + std::to_string(kMeteredQuota)) +
           partner("paced", kPacedKey,
                   "rate_limit: {requests_per_second: " + std::to_string(kPacedRate) +
                       ", burst: " + std::to_string(kPacedBurst) + "}"),
       .batches = true,
       .chunk_records = 100,
       .chunk_timeout_ms = 3000,
       .start_gateway = false,
       .broker_process = true});
  ASSERT_EQ(stack.cluster, nullptr);
  const auto connector_config = stack.write_process_config();
  std::vector<std::unique_ptr<ChildProcess>> connectors;  // two per registry
  for (const auto& [registry, _] : stack.cfg.registries) {
    for (const char* name : {"1", "2"}) {
      connectors.push_back(std::make_unique<ChildProcess>(
          std::vector<std::string>{"connector", "--config", connector_config.string(), "--registry",
                                   registry},
          stack.dir / ("connector-" + registry + "-" + name + ".log")));
    }
  }
  const TestSchema schema("lgsp_cluster");
  Replica a(stack, schema, "a");
  Replica b(stack, schema, "b");
  wait_gateway_ready(a.admin);
  wait_gateway_ready(b.admin);
  // Every connector holds a share of its registry's topics before the load starts.
  const auto all_joined = [&connectors] {
    return std::all_of(connectors.begin(), connectors.end(),
                       [](const auto& c) { return c->log_count("kafka_partitions_assigned") > 0; });
  };
  for (const auto until = std::chrono::steady_clock::now() + 30s;
       !all_joined() && std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(100ms)) {
  }
  ASSERT_TRUE(all_joined()) << "a connector never got partitions";
  // Each leased a reply partition of its own: nobody numbered them.
  EXPECT_NE(a.reply_partition(), -1);
  EXPECT_NE(b.reply_partition(), -1);
  EXPECT_NE(a.reply_partition(), b.reply_partition());

  // One daily quota for both replicas: not twice the quota, not less.
  // Admitted requests spend quota whatever their answer: on a loaded machine a few verifies
  // may time out (504) after admission, and count as admitted all the same.
  const auto statuses = alternate(stack, kMeteredKey, a.api, b.api, kMeteredQuota + 50);
  EXPECT_EQ(statuses.at(429), 50) << ::testing::PrintToString(statuses);
  int admitted = 0;
  for (const auto& [status, n] : statuses) {
    if (status == 429) continue;
    admitted += n;
    EXPECT_TRUE(status == 200 || status == 504) << ::testing::PrintToString(statuses);
  }
  EXPECT_EQ(admitted, kMeteredQuota) << ::testing::PrintToString(statuses);
  EXPECT_GE(statuses.at(200), kMeteredQuota * 9 / 10) << ::testing::PrintToString(statuses);

  // One rate limit: each replica admits half, once each counts two replicas (at its first
  // renewal after the other started). Not twice the burst and rate.
  ASSERT_TRUE(counts_replicas(a.admin, 2));
  ASSERT_TRUE(counts_replicas(b.admin, 2));
  const auto started = std::chrono::steady_clock::now();
  auto paced = alternate(stack, kPacedKey, a.api, b.api, 3 * kPacedBurst);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("[ info     ] rate %d/s burst %d over two replicas: %d of %d admitted in %.2f s\n",
              kPacedRate, kPacedBurst, paced[200], 3 * kPacedBurst, seconds);
  EXPECT_LE(paced[200], kPacedBurst + static_cast<int>(kPacedRate * seconds) + 2);
  EXPECT_GE(paced[200], kPacedBurst);
  EXPECT_EQ(paced[200] + paced[429], 3 * kPacedBurst);

  constexpr int kRecords = 30000;
  const std::string id =
      submit_verify_job(a.api, alternating_verify_job(stack, kRecords), "cluster-job-1");
  ASSERT_FALSE(id.empty());
  // The other replica serves the job too, from the shared store.
  auto job = wait_done(b.api, id, kRecords / 5, 120s);
  ASSERT_EQ(job.at("state").as_string(), "running") << "the job ended before the kill";

  // Kill whichever replica runs it, with chunks in flight, under interactive load.
  const bool a_runs = a.log_count("\"batch_job_running\"") > 0;
  Replica& victim = a_runs ? a : b;
  Replica& survivor = a_runs ? b : a;
  ASSERT_EQ(survivor.log_count("\"batch_job_running\""), 0)
      << "both ran the job before the kill; a's log:\n"
      << a.log_lines("\"batch_") << "b's log:\n"
      << b.log_lines("\"batch_");
  InteractiveLoad on_victim(stack, victim.api);
  InteractiveLoad on_survivor(stack, survivor.api);
  std::this_thread::sleep_for(500ms);
  const auto done_at_kill = done_of(job_status(survivor.api, id));
  victim.kill_hard();

  job = wait_ended(survivor.api, id, 240s);
  ASSERT_EQ(job.at("state").as_string(), "completed") << json::serialize(job);
  EXPECT_GE(done_at_kill, kRecords / 5);
  EXPECT_EQ(job.at("counts").at("total").as_int64(), kRecords);
  EXPECT_EQ(done_of(job), kRecords);
  EXPECT_EQ(job.at("counts").at("matched").as_int64(), kRecords / 2);
  EXPECT_EQ(job.at("counts").at("mismatched").as_int64(), kRecords / 2);
  expect_alternating_results(survivor.api, id, kRecords);
  EXPECT_EQ(survivor.log_count("\"batch_job_taken_over\""), 1);

  // The same Idempotency-Key at the survivor is the same job, not a second one.
  EXPECT_EQ(
      submit_verify_job(survivor.api, alternating_verify_job(stack, kRecords), "cluster-job-1"),
      id);

  std::printf(
      "[ info     ] %d records, %lld done at the kill; interactive on the survivor: %d right, "
      "%d wrong, %d failed; on the victim: %d right, %d wrong, %d failed\n",
      kRecords, static_cast<long long>(done_at_kill), on_survivor.right.load(),
      on_survivor.wrong.load(), on_survivor.failed.load(), on_victim.right.load(),
      on_victim.wrong.load(), on_victim.failed.load());
  EXPECT_EQ(on_survivor.wrong.load(), 0);
  EXPECT_EQ(on_survivor.failed.load(), 0);
  EXPECT_GT(on_survivor.right.load(), 10);
  EXPECT_EQ(on_victim.wrong.load(), 0);
  EXPECT_GT(on_victim.failed.load(), 0) << "the victim was never killed?";
}

}  // namespace
}  // namespace lgsp::testing
