// A flood of unauthenticated requests (issue 19, item 8): every 401 used to be an audit
// event of its own with no limit, so a flood filled the audit producer's queue and turned
// every real partner's answer into 503. Now each client address has a failure budget;
// beyond it the answer is 429 and the failures are audited as aggregates.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "app/commands.hpp"
#include "audit/record.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/stack.hpp"

namespace lgsp::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// Fails on 293675d: all 400 bad-key requests were answered 401, each with its own audit
// event (no budget, no aggregate).
TEST(AnonymousFlood, FailuresBeyondTheBudgetAre429AndAuditedAsAggregates) {
  TestStack stack({.gateway_yaml = "  anonymous_failures_per_second: 5\n",
                   .audit_yaml = "  max_undelivered: 100"});
  const auto s = stack.subjects(1).at(0);
  const std::string body = json::serialize(json::object{
      {"citizen_id", s.citizen_id}, {"full_name", s.full_name}, {"purpose", "flood-test"}});
  int unauthorized = 0, throttled = 0;
  for (int i = 0; i < 400; ++i) {
    const auto r = post_json(stack.api_port(), "/v1/population/verify", body, "not-a-key");
    if (r.status == 401) ++unauthorized;
    if (r.status == 429) {
      ++throttled;
      EXPECT_EQ(r.json().at("type").as_string(), "urn:lgsp:problem:too-many-failures");
      EXPECT_FALSE(r.header("retry-after").empty());
    }
  }
  EXPECT_EQ(unauthorized + throttled, 400);
  EXPECT_GT(throttled, 300) << "the budget is 5/s with a burst of 25";
  // A real partner from the same machine is not refused for the audit backlog.
  const auto ok = post_json(stack.api_port(), "/v1/population/verify", body, kMinistryKey);
  EXPECT_EQ(ok.status, 200) << ok.body;

  // After the aggregate interval, the next failure flushes the aggregate: every throttled
  // failure is in the trail, counted.
  std::this_thread::sleep_for(10500ms);
  (void)post_json(stack.api_port(), "/v1/population/verify", body, "not-a-key");
  std::int64_t individual = 0, aggregated = 0;
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (aggregated < throttled && std::chrono::steady_clock::now() < until) {
    individual = aggregated = 0;
    app::open_audit_store(stack.cfg)->scan([&](const audit::AuditRecord& r) {
      if (r.operation == "anonymous.failures") aggregated += r.subject_count;
      if (r.partner_id == "anonymous" && r.operation == "population.verify") ++individual;
    });
    if (aggregated < throttled) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(aggregated, throttled);
  EXPECT_EQ(individual, unauthorized + 1);
}

}  // namespace
}  // namespace lgsp::testing
