// A bulk job survives SIGKILL of the gateway that runs it and of the connector that answers
// it: after both restart, the job completes with every record answered exactly once, in
// input order, and no answer wrong. The gateway and the connector run as real `lgsp`
// processes against the test's embedded Kafka cluster.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/stack.hpp"

namespace lgsp::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// The stack's process config turned into a gateway of its own: instance 0 (the in-process
/// gateway is instance 1), fixed ports, and its own job store.
std::filesystem::path gateway_config(const TestStack& stack, std::uint16_t api,
                                     std::uint16_t admin) {
  std::ifstream in(stack.write_process_config());
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  const std::string from =
      "  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\n  threads: 2\n  instance: 1\n";
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("unexpected stack config layout");
  text.replace(at, from.size(),
               "  listen: 127.0.0.1:" + std::to_string(api) + "\n  admin_listen: 127.0.0.1:" +
                   std::to_string(admin) + "\n  threads: 2\n  instance: 0\n");
  const std::string store = "/batches.db";
  text.replace(text.find(store), store.size(), "/batches-process.db");
  const auto path = stack.dir / "gateway-process.yaml";
  std::ofstream(path) << text;
  return path;
}

bool ready(std::uint16_t admin) {
  try {
    return http_call(admin, "GET", "/readyz").status == 200;
  } catch (const std::exception&) {
    return false;  // not listening yet
  }
}

void wait_ready(std::uint16_t admin) {
  const auto until = Clock::now() + 60s;
  while (!ready(admin) && Clock::now() < until) std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(ready(admin)) << "the gateway process never became ready";
}

json::object job_status(std::uint16_t api, const std::string& id) {
  const auto r = http_call(api, "GET", "/v1/batches/" + id, {},
                           {{"Authorization", std::string("Bearer ") + kBulkKey}});
  if (r.status != 200) throw std::runtime_error("status " + std::to_string(r.status) + r.body);
  return r.json().as_object();
}

std::int64_t done_of(const json::object& job) { return job.at("counts").at("done").as_int64(); }

/// Polls until the job has `n` records done (or is finished, or `limit` passes).
json::object wait_done(std::uint16_t api, const std::string& id, std::int64_t n,
                       std::chrono::seconds limit) {
  const auto until = Clock::now() + limit;
  for (;;) {
    auto job = job_status(api, id);
    const auto state = job.at("state").as_string();
    if (done_of(job) >= n || (state != "running" && state != "queued") || Clock::now() > until)
      return job;
    std::this_thread::sleep_for(20ms);
  }
}

/// Polls until the job has ended (or `limit` passes). Its last record can be answered while
/// a chunk sent again is still out: the job completes once that one returns or times out.
json::object wait_ended(std::uint16_t api, const std::string& id, std::chrono::seconds limit) {
  const auto until = Clock::now() + limit;
  for (;;) {
    auto job = job_status(api, id);
    const auto state = job.at("state").as_string();
    if ((state != "running" && state != "queued") || Clock::now() > until) return job;
    std::this_thread::sleep_for(50ms);
  }
}

TEST(BatchRestart, EveryRecordAnsweredOnceAfterGatewayAndConnectorAreKilled) {
  TestStack stack({.start_connector = false,
                   .citizens = 3000,
                   .batches = true,
                   .chunk_records = 100,
                   .chunk_timeout_ms = 3000});
  const std::uint16_t api = free_port();
  const std::uint16_t admin = free_port();
  const auto gw_config = gateway_config(stack, api, admin);
  const auto conn_config = stack.write_process_config();
  auto connector = std::make_unique<ChildProcess>(
      std::vector<std::string>{"connector", "--config", conn_config.string(), "--registry",
                               "population"},
      stack.dir / "connector-1.log");
  auto gateway = std::make_unique<ChildProcess>(
      std::vector<std::string>{"gateway", "--config", gw_config.string()},
      stack.dir / "gateway-1.log");
  wait_ready(admin);
  const auto joined_until = Clock::now() + 30s;
  while (connector->log_count("kafka_partitions_assigned") < 2 && Clock::now() < joined_until)
    std::this_thread::sleep_for(100ms);

  // Half the records claim a wrong birth date: a result recorded against the wrong line
  // would show.
  const auto subjects = stack.subjects(1500);
  constexpr int kRecords = 40000;
  std::string body;
  for (int i = 1; i <= kRecords; ++i) {
    const auto& s = subjects[static_cast<std::size_t>(i) % subjects.size()];
    body += json::serialize(
        json::object{{"citizen_id", s.citizen_id},
                     {"date_of_birth", i % 2 == 0 ? s.date_of_birth : std::string("1900-01-01")}});
    body += '\n';
  }
  const auto accepted = http_call(
      api, "POST",
      "/v1/batches?registry=population&operation=verify&purpose=credit-bureau-cleaning", body,
      {{"Authorization", std::string("Bearer ") + kBulkKey},
       {"Content-Type", "application/x-ndjson"}});
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  const std::string id(accepted.json().at("id").as_string());

  // The gateway dies mid-job, with chunks in flight; a new one takes over from the store.
  auto job = wait_done(api, id, kRecords / 5, 120s);
  ASSERT_EQ(job.at("state").as_string(), "running") << "the job ended before the kill";
  gateway->kill_hard();
  const auto done_at_gateway_kill = done_of(job);
  gateway = std::make_unique<ChildProcess>(
      std::vector<std::string>{"gateway", "--config", gw_config.string()},
      stack.dir / "gateway-2.log");
  wait_ready(admin);
  EXPECT_GE(done_of(job_status(api, id)), done_at_gateway_kill) << "results were lost";

  // Then the connector dies mid-job; a new one joins the group and the job goes on.
  job = wait_done(api, id, kRecords / 2, 120s);
  ASSERT_EQ(job.at("state").as_string(), "running") << "the job ended before the second kill";
  connector->kill_hard();
  connector = std::make_unique<ChildProcess>(
      std::vector<std::string>{"connector", "--config", conn_config.string(), "--registry",
                               "population"},
      stack.dir / "connector-2.log");

  job = wait_ended(api, id, 240s);
  ASSERT_EQ(job.at("state").as_string(), "completed") << json::serialize(job);
  EXPECT_EQ(job.at("counts").at("total").as_int64(), kRecords);
  EXPECT_EQ(done_of(job), kRecords);
  EXPECT_EQ(job.at("counts").at("matched").as_int64(), kRecords / 2);
  EXPECT_EQ(job.at("counts").at("mismatched").as_int64(), kRecords / 2);

  // Exactly one result per record, in input order, each the right answer.
  const auto results = http_call(api, "GET", "/v1/batches/" + id + "/results", {},
                                 {{"Authorization", std::string("Bearer ") + kBulkKey}});
  ASSERT_EQ(results.status, 200);
  std::istringstream in(results.body);
  int expected_line = 0;
  for (std::string line; std::getline(in, line);) {
    ++expected_line;
    const auto v = json::parse(line).as_object();
    ASSERT_EQ(v.at("line").as_int64(), expected_line);
    ASSERT_EQ(v.at("match").as_bool(), expected_line % 2 == 0) << "line " << expected_line;
  }
  EXPECT_EQ(expected_line, kRecords);
  // The kills really cut work short: the new gateway sent chunks again.
  EXPECT_GT(gateway->log_count("batch_job_running"), 0);
}

}  // namespace
}  // namespace lgsp::testing
