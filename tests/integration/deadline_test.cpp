// Deadlines and late connectors: the gateway answers 504 within the deadline when no
// connector runs, and a connector that starts late still answers what is waiting.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <future>

#include "tests/support/http_client.hpp"
#include "tests/support/stack.hpp"

namespace lgsp::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

std::string verify_body(const domain::CitizenRecord& s) {
  return json::serialize(
      json::object{{"citizen_id", s.citizen_id}, {"full_name", s.full_name}, {"purpose", "p"}});
}

TEST(Deadline, NoConnectorMeans504WithinTheDeadline) {
  TestStack stack({.start_connector = false, .deadline_ms = 800});
  const auto subject = stack.subjects(1).at(0);
  const auto start = Clock::now();
  const auto r =
      post_json(stack.api_port(), "/v1/population/verify", verify_body(subject), kMinistryKey);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
  EXPECT_GE(took.count(), 790);
  EXPECT_LT(took.count(), 1500) << "answered long after the deadline";
  const auto m = http_call(stack.admin_port(), "GET", "/metrics");
  EXPECT_NE(m.body.find("lgsp_gateway_reply_timeouts_total 1"), std::string::npos) << m.body;
}

TEST(Deadline, ConnectorStartedLatePicksUpAndAnswers) {
  TestStack stack({.start_connector = false, .deadline_ms = 15000});
  const auto subject = stack.subjects(1).at(0);
  auto pending = std::async(std::launch::async, [&] {
    return post_json(stack.api_port(), "/v1/population/verify", verify_body(subject), kMinistryKey);
  });
  // The request waits on the bus with nobody consuming it.
  ASSERT_EQ(pending.wait_for(std::chrono::milliseconds(700)), std::future_status::timeout);
  stack.start_connector();
  ASSERT_EQ(pending.wait_for(std::chrono::seconds(14)), std::future_status::ready);
  const auto r = pending.get();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json().at("match").as_bool());
}

TEST(Deadline, ExpiredRequestsAreDroppedNotAnswered) {
  TestStack stack({.start_connector = false, .deadline_ms = 300});
  const auto subject = stack.subjects(1).at(0);
  EXPECT_EQ(post_json(stack.api_port(), "/v1/population/verify", verify_body(subject), kMinistryKey)
                .status,
            504);
  stack.start_connector();
  // Give the connector time to consume the stale request.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const auto m = http_call(stack.admin_port(), "GET", "/metrics");
  EXPECT_NE(
      m.body.find(R"(lgsp_connector_requests_total{outcome="expired",registry="population"} 1)"),
      std::string::npos)
      << m.body;
  EXPECT_EQ(m.body.find("lgsp_gateway_late_replies_total 1"), std::string::npos);
}

}  // namespace
}  // namespace lgsp::testing
