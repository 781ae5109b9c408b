// A bulk job survives SIGKILL of the gateway that runs it and of the connector that answers
// it: after both restart, the job completes with every record answered exactly once, in
// input order, and no answer wrong. The gateway and the connector run as real `lgsp`
// processes against the test's embedded Kafka cluster.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "tests/support/child_process.hpp"
#include "tests/support/gateway_process.hpp"
#include "tests/support/stack.hpp"

namespace lgsp::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(BatchRestart, EveryRecordAnsweredOnceAfterGatewayAndConnectorAreKilled) {
  TestStack stack({.start_connector = false,
                   .citizens = 3000,
                   .batches = true,
                   .chunk_records = 100,
                   .chunk_timeout_ms = 3000});
  const std::uint16_t api = free_port();
  const std::uint16_t admin = free_port();
  const auto gw_config = gateway_config(stack, api, admin, "gateway-process");
  const auto conn_config = stack.write_process_config();
  auto connector = std::make_unique<ChildProcess>(
      std::vector<std::string>{"connector", "--config", conn_config.string(), "--registry",
                               "population"},
      stack.dir / "connector-1.log");
  auto gateway = std::make_unique<ChildProcess>(
      std::vector<std::string>{"gateway", "--config", gw_config.string()},
      stack.dir / "gateway-1.log");
  wait_gateway_ready(admin);
  const auto joined_until = Clock::now() + 30s;
  while (connector->log_count("kafka_partitions_assigned") < 2 && Clock::now() < joined_until)
    std::this_thread::sleep_for(100ms);

  // Half the records claim a wrong birth date: a result recorded against the wrong line
  // would show.
  constexpr int kRecords = 40000;
  const std::string id = submit_verify_job(api, alternating_verify_job(stack, kRecords));
  ASSERT_FALSE(id.empty());

  // The gateway dies mid-job, with chunks in flight; a new one takes over from the store.
  auto job = wait_done(api, id, kRecords / 5, 120s);
  ASSERT_EQ(job.at("state").as_string(), "running") << "the job ended before the kill";
  gateway->kill_hard();
  const auto done_at_gateway_kill = done_of(job);
  gateway = std::make_unique<ChildProcess>(
      std::vector<std::string>{"gateway", "--config", gw_config.string()},
      stack.dir / "gateway-2.log");
  wait_gateway_ready(admin);
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
  expect_alternating_results(api, id, kRecords);
  // The kills really cut work short: the new gateway sent chunks again.
  EXPECT_GT(gateway->log_count("batch_job_running"), 0);
}

}  // namespace
}  // namespace lgsp::testing
