// The upstream backend's pure parts: Options checks, the retry budget, the circuit breaker.
// upstream_client_test.cpp drives the client against the real stand-in.
#include <gtest/gtest.h>

#include <stdlib.h>

#include "registries/backends/resilience.hpp"
#include "registries/backends/upstream.hpp"

namespace lgsp::registries::upstream {
namespace {

using std::chrono::milliseconds;

/// A clock that moves only when told.
struct FakeClock {
  SteadyTime t{std::chrono::hours(1)};
  Clock fn() {
    return [this] { return t; };
  }
};

Options valid() {
  Options o;
  o.base_url = "https://ministry.example.gov.vn/api";
  return o;
}

/// The keys check() blames, in order.
std::vector<std::string> blamed(const Options& o) {
  std::vector<std::string> keys;
  for (const auto& p : problems(o)) keys.emplace_back(p.key);
  return keys;
}

TEST(UpstreamOptions, AValidConfigurationHasNoProblems) {
  EXPECT_EQ(check(valid()), std::nullopt);
  Options loopback;
  loopback.base_url = "http://127.0.0.1:9000";
  loopback.bearer_token_env = "LGSP_MINISTRY_TOKEN";
  EXPECT_EQ(check(loopback), std::nullopt);
  loopback.base_url = "http://[::1]:9000/base";
  EXPECT_EQ(check(loopback), std::nullopt);
  loopback.base_url = "http://LocalHost:9000";
  EXPECT_EQ(check(loopback), std::nullopt);
}

TEST(UpstreamOptions, PlainHttpOnlyToLoopback) {
  Options o = valid();
  o.base_url = "http://ministry.example.gov.vn";
  ASSERT_TRUE(check(o).has_value());
  EXPECT_NE(check(o)->find("base_url: must use https://"), std::string::npos) << *check(o);
  o.base_url = "http://127.0.0.2";  // loopback in fact, but not one of the names we trust
  EXPECT_EQ(blamed(o), std::vector<std::string>{"base_url"});
  o.base_url = "ftp://x";
  EXPECT_EQ(check(o), "base_url: the URL must start with http:// or https://");
  o.base_url = "https://user:secret@ministry";
  ASSERT_TRUE(check(o).has_value());
  EXPECT_EQ(check(o)->find("secret"), std::string::npos);  // never echoes a credential
}

TEST(UpstreamOptions, CertificateAndKeyGoTogetherAndNeedHttps) {
  Options o = valid();
  o.cert_file = "/etc/lgsp/client.pem";
  EXPECT_EQ(blamed(o), std::vector<std::string>{"key_file"});
  o.key_file = "/etc/lgsp/client.key";
  EXPECT_EQ(check(o), std::nullopt);
  o.base_url = "http://localhost:8080";
  EXPECT_EQ(blamed(o), (std::vector<std::string>{"cert_file", "key_file"}));
}

TEST(UpstreamOptions, EveryBadNumberIsReportedAtOnce) {
  Options o = valid();
  o.timeout = milliseconds(0);
  o.max_attempts = 0;
  o.retry_budget = 1.5;
  o.retry_floor = -1;
  o.backoff = milliseconds(-1);
  o.breaker_failures = 0;
  o.breaker_open_for = milliseconds(0);
  o.max_body = 0;
  EXPECT_EQ(blamed(o), (std::vector<std::string>{"timeout", "max_attempts", "retry_budget",
                                                 "retry_floor", "backoff", "breaker_failures",
                                                 "breaker_open_for", "max_body"}));
  EXPECT_NE(check(o)->find("max_attempts: must be from 1 to 10; "), std::string::npos);
}

TEST(UpstreamOptions, TheTokenComesFromANamedVariable) {
  Options o = valid();
  o.bearer_token_env = "eyJhbGciOi.JIUzI1NiJ9";  // a token pasted where the name goes
  EXPECT_EQ(blamed(o), std::vector<std::string>{"bearer_token_env"});
  o.bearer_token_env = "LGSP_UPSTREAM_TEST_UNSET_VARIABLE";
  // The tests of this binary run one at a time: nothing reads the environment meanwhile.
  ::unsetenv("LGSP_UPSTREAM_TEST_UNSET_VARIABLE");  // NOLINT(concurrency-mt-unsafe)
  try {
    Client c(o);
    ADD_FAILURE() << "a client without its token started";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("LGSP_UPSTREAM_TEST_UNSET_VARIABLE"), std::string::npos);
  }
}

TEST(UpstreamOptions, TheClientRefusesWhatCheckRefuses) {
  Options o = valid();
  o.max_attempts = 0;
  EXPECT_THROW(Client{o}, std::invalid_argument);
  o = valid();
  o.ca_file = "/nonexistent/ca.pem";
  EXPECT_THROW(Client{o}, std::invalid_argument);
}

TEST(UpstreamFailure, NamesAreStable) {
  EXPECT_EQ(to_string(Failure::kTimeout), "timeout");
  EXPECT_EQ(to_string(Failure::kUnavailable), "unavailable");
  EXPECT_EQ(to_string(Failure::kCircuitOpen), "circuit_open");
  EXPECT_EQ(to_string(Failure::kMalformed), "malformed");
  EXPECT_EQ(to_string(Failure::kRejected), "rejected");
  EXPECT_EQ(to_string(CircuitBreaker::State::kHalfOpen), "half_open");
}

TEST(UpstreamRetryBudget, AllowsTheFloorThenAFractionOfFirstAttempts) {
  FakeClock clock;
  RetryBudget budget(0.2, 2, milliseconds(10000), clock.fn());
  EXPECT_TRUE(budget.try_retry());
  EXPECT_TRUE(budget.try_retry());
  EXPECT_FALSE(budget.try_retry());  // the floor is spent; no first attempts yet
  for (int i = 0; i < 10; ++i) budget.record_first();
  EXPECT_TRUE(budget.try_retry());  // 2 + 0.2 × 10 = 4
  EXPECT_TRUE(budget.try_retry());
  EXPECT_FALSE(budget.try_retry());
  for (int i = 0; i < 4; ++i) budget.record_first();
  EXPECT_FALSE(budget.try_retry());  // 2 + 0.2 × 14 = 4.8 < 5
  budget.record_first();
  EXPECT_TRUE(budget.try_retry());  // 2 + 0.2 × 15 = 5
}

TEST(UpstreamRetryBudget, SpentRetriesExpireWithTheWindow) {
  FakeClock clock;
  RetryBudget budget(0.0, 1, milliseconds(1000), clock.fn());
  EXPECT_TRUE(budget.try_retry());
  EXPECT_FALSE(budget.try_retry());
  clock.t += milliseconds(500);
  EXPECT_FALSE(budget.try_retry());  // still in the window
  clock.t += milliseconds(600);
  EXPECT_TRUE(budget.try_retry());  // the first retry has slid out
  EXPECT_FALSE(budget.try_retry());
}

TEST(UpstreamCircuitBreaker, OpensAfterConsecutiveFailuresThenLetsOneProbeThrough) {
  FakeClock clock;
  CircuitBreaker b(3, milliseconds(5000), clock.fn());
  using T = CircuitBreaker::Ticket;
  for (int i = 0; i < 2; ++i) b.record(b.admit(), false);
  b.record(b.admit(), true);  // a success resets the count
  for (int i = 0; i < 2; ++i) b.record(b.admit(), false);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kClosed);
  b.record(b.admit(), false);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kOpen);
  EXPECT_EQ(b.times_opened(), 1);
  EXPECT_EQ(b.admit(), T::kRefused);
  EXPECT_EQ(b.remaining_open(), milliseconds(5000));

  clock.t += milliseconds(5000);
  const T probe = b.admit();
  EXPECT_EQ(probe, T::kProbe);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kHalfOpen);
  EXPECT_EQ(b.admit(), T::kRefused);  // one probe at a time
  b.record(probe, false);             // the probe failed: open again, for the whole time
  EXPECT_EQ(b.state(), CircuitBreaker::State::kOpen);
  EXPECT_EQ(b.times_opened(), 2);
  clock.t += milliseconds(4999);
  EXPECT_EQ(b.admit(), T::kRefused);
  clock.t += milliseconds(1);
  b.record(b.admit(), true);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kClosed);
  EXPECT_EQ(b.admit(), T::kCall);
}

TEST(UpstreamCircuitBreaker, LateOutcomesOfCallsAdmittedBeforeItOpenedChangeNothing) {
  FakeClock clock;
  CircuitBreaker b(1, milliseconds(1000), clock.fn());
  const auto early = b.admit();
  b.record(b.admit(), false);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kOpen);
  b.record(early, true);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kOpen);
}

}  // namespace
}  // namespace lgsp::registries::upstream
