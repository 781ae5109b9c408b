// Verify is not an oracle (issue 19, item 6 and 7): a partner that keeps failing to verify
// one subject is stopped, requests sent at once cannot slip past the count, a year alone is
// a claim only partners granted it may make, and a citizen profile is admitted registry by
// registry against the limits and the quota.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <future>
#include <string>
#include <vector>

#include "tests/support/http_client.hpp"
#include "tests/support/stack.hpp"
#include "util/hashing.hpp"

namespace lgsp::testing {
namespace {

namespace json = boost::json;

constexpr const char* kYearKey = "test-year-only-key";
constexpr const char* kProfileQuotaKey = "test-profile-quota-key";
constexpr const char* kProfileRateKey = "test-profile-rate-key";

std::string partners() {
  const std::string profile_grant =
      "    operations: [population.lookup, insurance.lookup, vehicle.lookup, citizen.profile]\n"
      "    fields: {population: [full_name], insurance: [status], vehicle: [plate_number]}\n";
  return "  - id: year-only\n    api_key_sha256: [" + util::sha256_hex(kYearKey) +
         "]\n    operations: [population.verify]\n    year_only_dates: true\n"
         "  - id: profile-quota\n    api_key_sha256: [" +
         util::sha256_hex(kProfileQuotaKey) + "]\n" + profile_grant +
         "    daily_quota: 4\n"
         "  - id: profile-rate\n    api_key_sha256: [" +
         util::sha256_hex(kProfileRateKey) + "]\n" + profile_grant +
         "    operation_limits: {insurance.lookup: {requests_per_second: 1, burst: 1}}\n";
}

class Oracle : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ =
        new TestStack({.gateway_yaml = "  failed_verify_limit: 5\n", .extra_partners = partners()});
  }
  static void TearDownTestSuite() { delete stack_; }

  static HttpResult verify(const domain::CitizenRecord& s, const std::string& date,
                           const char* key = kMinistryKey) {
    return post_json(
        stack_->api_port(), "/v1/population/verify",
        json::serialize(json::object{
            {"citizen_id", s.citizen_id}, {"date_of_birth", date}, {"purpose", "oracle-test"}}),
        key);
  }
  /// A date of `s`'s birth year that is not its birth date (n = 0, 1, ...).
  static std::string wrong_date(const domain::CitizenRecord& s, int n) {
    const std::string year = s.date_of_birth.substr(0, 4);
    for (int day = 1 + n;; ++day) {
      char d[11];
      std::snprintf(d, sizeof d, "%s-%02d-%02d", year.c_str(), 1 + day / 28 % 12, 1 + day % 28);
      if (d != s.date_of_birth) return d;
    }
  }
  static HttpResult profile(const domain::CitizenRecord& s, const char* key) {
    return post_json(
        stack_->api_port(), "/v1/citizen-profile",
        json::serialize(json::object{{"citizen_id", s.citizen_id}, {"purpose", "oracle-test"}}),
        key);
  }

  static TestStack* stack_;
};

TestStack* Oracle::stack_ = nullptr;

// Guessing a birth date: five wrong dates are answered (no match), then the partner is
// stopped for that subject, even when its next guess is right. Others are unaffected. Fails
// on 293675d: every guess is answered, the right one with "match": true.
TEST_F(Oracle, GuessingABirthDateIsStoppedAfterFiveFailures) {
  const auto subjects = stack_->subjects(20);
  const auto& s = subjects[3];
  for (int i = 0; i < 5; ++i) {
    const auto r = verify(s, wrong_date(s, i));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_FALSE(r.json().at("match").as_bool());
  }
  const auto stopped = verify(s, s.date_of_birth);
  ASSERT_EQ(stopped.status, 429) << stopped.body;
  EXPECT_EQ(stopped.json().at("type").as_string(), "urn:lgsp:problem:verify-attempts-exhausted");
  EXPECT_FALSE(stopped.header("retry-after").empty());
  EXPECT_EQ(stopped.body.find(s.date_of_birth), std::string::npos);

  // Another subject for the same partner, and the same subject for another partner.
  EXPECT_EQ(verify(subjects[4], subjects[4].date_of_birth).status, 200);
  const auto other_partner = verify(s, s.date_of_birth, kYearKey);
  ASSERT_EQ(other_partner.status, 200) << other_partner.body;
  EXPECT_TRUE(other_partner.json().at("match").as_bool());

  const auto metrics = http_call(stack_->admin_port(), "GET", "/metrics").body;
  EXPECT_NE(metrics.find("lgsp_gateway_verify_guard_refusals_total{partner=\"ministry\"} 1"),
            std::string::npos);
}

// Sent at once, guesses are charged before any answer: no more than five get through.
TEST_F(Oracle, ConcurrentGuessesCannotSlipPastTheCount) {
  const auto s = stack_->subjects(20)[7];
  std::vector<std::future<HttpResult>> calls;
  calls.reserve(30);
  for (int i = 0; i < 30; ++i) {
    calls.push_back(
        std::async(std::launch::async, [&s, i] { return verify(s, wrong_date(s, i)); }));
  }
  int answered = 0, stopped = 0;
  for (auto& c : calls) {
    const auto r = c.get();
    answered += r.status == 200 ? 1 : 0;
    stopped += r.status == 429 ? 1 : 0;
  }
  EXPECT_LE(answered, 5);
  EXPECT_EQ(answered + stopped, 30);
}

// Matches do not count: a partner verifying the right claims again and again is never stopped.
TEST_F(Oracle, RightClaimsAreNeverStopped) {
  const auto s = stack_->subjects(20)[9];
  for (int i = 0; i < 12; ++i) ASSERT_EQ(verify(s, s.date_of_birth).status, 200) << i;
}

// A year alone is graded partial when it agrees; only a partner granted year_only_dates may
// claim one. Fails on 293675d (every partner could).
TEST_F(Oracle, YearAloneOnlyForPartnersGrantedIt) {
  const auto s = stack_->subjects(20)[11];
  const std::string year = s.date_of_birth.substr(0, 4);
  const auto refused = verify(s, year);
  ASSERT_EQ(refused.status, 400) << refused.body;
  EXPECT_EQ(refused.json().at("errors").at(0).at("field").as_string(), "date_of_birth");
  const auto granted = verify(s, year, kYearKey);
  ASSERT_EQ(granted.status, 200) << granted.body;
  EXPECT_EQ(granted.json().at("fields").at("date_of_birth").as_string(), "partial");
}

// A profile over three registries is one request plus three lookups against the quota.
// Fails on 293675d, where it cost one.
TEST_F(Oracle, AProfileCountsEachRegistryAgainstTheQuota) {
  const auto s = stack_->subjects(20)[13];
  const auto first = profile(s, kProfileQuotaKey);
  ASSERT_EQ(first.status, 200) << first.body;
  for (const char* r : {"population", "insurance", "vehicle"}) {
    EXPECT_NE(first.json().at("parts").at(r).at("status").as_string(), "refused") << first.body;
  }
  const auto second = profile(s, kProfileQuotaKey);
  ASSERT_EQ(second.status, 429) << second.body;
  EXPECT_EQ(second.json().at("type").as_string(), "urn:lgsp:problem:quota-exhausted");
}

// A registry's own operation limit applies to its part of a profile.
TEST_F(Oracle, AProfileLegOverItsOperationLimitIsRefusedAlone) {
  const auto s = stack_->subjects(20)[15];
  const auto first = profile(s, kProfileRateKey);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_NE(first.json().at("parts").at("insurance").at("status").as_string(), "refused");
  const auto second = profile(s, kProfileRateKey);
  ASSERT_EQ(second.status, 200) << second.body;
  const auto body = second.json();
  const auto& parts = body.at("parts");
  EXPECT_EQ(parts.at("insurance").at("status").as_string(), "refused") << second.body;
  EXPECT_EQ(parts.at("insurance").at("detail").as_string().rfind("rate-limited: ", 0), 0U)
      << second.body;
  EXPECT_NE(parts.at("population").at("status").as_string(), "refused");
  EXPECT_TRUE(body.at("partial").as_bool());
}

}  // namespace
}  // namespace lgsp::testing
