// The walking skeleton over real sockets: HTTP → gateway → Kafka protocol (embedded cluster)
// → connector → SQLite → Kafka → HTTP. Nothing of ours is mocked.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tests/support/http_client.hpp"
#include "tests/support/stack.hpp"

namespace lgsp::testing {
namespace {

namespace json = boost::json;

class PopulationApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { stack_ = new TestStack(); }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  void SetUp() override { subject_ = stack_->subjects(5).at(2); }

  std::string verify_body(const std::string& name, const std::string& dob,
                          const std::string& gender = {}) const {
    json::object o{{"citizen_id", subject_.citizen_id},
                   {"purpose", "telecom-subscriber-registration"}};
    if (!name.empty()) o["full_name"] = name;
    if (!dob.empty()) o["date_of_birth"] = dob;
    if (!gender.empty()) o["gender"] = gender;
    return json::serialize(o);
  }
  HttpResult verify(const std::string& body, const std::string& key = kMinistryKey) const {
    return post_json(stack_->api_port(), "/v1/population/verify", body, key);
  }
  HttpResult lookup(const std::string& body, const std::string& key = kMinistryKey) const {
    return post_json(stack_->api_port(), "/v1/population/lookup", body, key);
  }
  static void expect_problem(const HttpResult& r, int status, const std::string& field = {}) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.header("content-type"), "application/problem+json");
    const auto j = r.json().as_object();
    EXPECT_EQ(j.at("status").as_int64(), status);
    EXPECT_FALSE(j.at("detail").as_string().empty());
    if (!field.empty()) {
      bool named = false;
      for (const auto& e : j.at("errors").as_array())
        named = named || e.at("field").as_string() == field;
      EXPECT_TRUE(named) << "problem does not name field " << field << ": " << r.body;
    }
  }

  static inline TestStack* stack_ = nullptr;
  domain::CitizenRecord subject_;
};

TEST_F(PopulationApi, VerifyMatchesSeededCitizen) {
  const auto r = verify(verify_body(subject_.full_name, subject_.date_of_birth, subject_.gender));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = r.json().as_object();
  EXPECT_TRUE(j.at("match").as_bool());
  EXPECT_TRUE(j.at("subject_found").as_bool());
  EXPECT_EQ(j.at("fields").at("full_name").as_string(), "exact");
  EXPECT_EQ(j.at("fields").at("date_of_birth").as_string(), "exact");
  EXPECT_EQ(j.at("fields").at("gender").as_string(), "exact");
  EXPECT_EQ(j.at("source").at("registry").as_string(), "population");
  EXPECT_EQ(j.at("request_id").as_string(), r.header("x-request-id"));
}

TEST_F(PopulationApi, VerifyMatchesNameTypedUpperCaseWithDoubledSpaces) {
  std::string shouted;
  // Upper-case the ASCII letters and double every space; the diacritics stay lower-case
  // letters here, which case folding must equate too.
  for (char c : subject_.full_name) {
    if (c == ' ')
      shouted += "  ";
    else
      shouted += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  const auto r = verify(verify_body(shouted, ""));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json().at("match").as_bool()) << shouted;
}

TEST_F(PopulationApi, VerifyReturnsMismatchWhenBirthDateDiffers) {
  const auto r = verify(verify_body(subject_.full_name, "1901-01-01"));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = r.json().as_object();
  EXPECT_FALSE(j.at("match").as_bool());
  EXPECT_EQ(j.at("fields").at("full_name").as_string(), "exact");
  EXPECT_EQ(j.at("fields").at("date_of_birth").as_string(), "mismatch");
  EXPECT_EQ(r.body.find(subject_.date_of_birth), std::string::npos)
      << "verify must not leak the value";
}

TEST_F(PopulationApi, VerifyOfUnknownCitizenIsNotFoundWith200) {
  const auto r = verify(R"({"citizen_id":"096399999999","gender":"male","purpose":"p"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.json().at("match").as_bool());
  EXPECT_FALSE(r.json().at("subject_found").as_bool());
}

TEST_F(PopulationApi, LookupWithoutFieldsReturnsExactlyTheGrantedOnes) {
  const auto r =
      lookup(json::serialize(json::object{{"citizen_id", subject_.citizen_id}, {"purpose", "p"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto rec = r.json().at("record").as_object();
  EXPECT_EQ(rec.size(), 3U) << r.body;  // ministry: full_name, date_of_birth, gender
  EXPECT_EQ(rec.at("full_name").as_string(), subject_.full_name);
  EXPECT_EQ(rec.at("date_of_birth").as_string(), subject_.date_of_birth);
  EXPECT_FALSE(rec.contains("permanent_address"));
}

TEST_F(PopulationApi, LookupOfNamedGrantedFieldReturnsOnlyIt) {
  const auto r = lookup(json::serialize(json::object{
      {"citizen_id", subject_.citizen_id}, {"purpose", "p"}, {"fields", json::array{"gender"}}}));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto rec = r.json().at("record").as_object();
  ASSERT_EQ(rec.size(), 1U);
  EXPECT_EQ(rec.at("gender").as_string(), subject_.gender);
}

TEST_F(PopulationApi, LookupOfFieldNotGrantedIs403NamingIt) {
  const auto r = lookup(
      json::serialize(json::object{{"citizen_id", subject_.citizen_id},
                                   {"purpose", "p"},
                                   {"fields", json::array{"full_name", "permanent_address"}}}));
  expect_problem(r, 403, "fields");
  EXPECT_NE(r.body.find("permanent_address"), std::string::npos);
}

TEST_F(PopulationApi, LookupOfUnknownCitizenIs404) {
  expect_problem(lookup(R"({"citizen_id":"096399999999","purpose":"p"})"), 404);
}

TEST_F(PopulationApi, MissingKeyIs401WithChallenge) {
  const auto r = verify(verify_body(subject_.full_name, ""), "");
  expect_problem(r, 401);
  EXPECT_EQ(r.header("www-authenticate"), "Bearer realm=\"lgsp\"");
}

TEST_F(PopulationApi, WrongKeyIs401) {
  expect_problem(verify(verify_body(subject_.full_name, ""), "not-a-key"), 401);
}

TEST_F(PopulationApi, OperationNotAllowedForPartnerIs403) {
  const auto r =
      lookup(json::serialize(json::object{{"citizen_id", subject_.citizen_id}, {"purpose", "p"}}),
             kTelecomKey);
  expect_problem(r, 403);
}

TEST_F(PopulationApi, VerifyOnlyPartnerCanVerify) {
  const auto r = verify(verify_body(subject_.full_name, ""), kTelecomKey);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json().at("match").as_bool());
}

TEST_F(PopulationApi, MalformedJsonIs400NamingBody) {
  expect_problem(verify("{not json"), 400, "body");
}

TEST_F(PopulationApi, BadCitizenIdIs400NamingIt) {
  expect_problem(verify(R"({"citizen_id":"12AB","full_name":"X","purpose":"p"})"), 400,
                 "citizen_id");
}

TEST_F(PopulationApi, MissingPurposeIs400NamingIt) {
  expect_problem(verify(json::serialize(
                     json::object{{"citizen_id", subject_.citizen_id}, {"full_name", "X"}})),
                 400, "purpose");
}

TEST_F(PopulationApi, NonIsoDateIs400SayingIso) {
  const auto r = verify(verify_body("", "01/05/1999"));
  expect_problem(r, 400, "date_of_birth");
  EXPECT_NE(r.body.find("ISO 8601"), std::string::npos);
}

TEST_F(PopulationApi, OversizedBodyIs413) {
  const std::string big =
      R"({"citizen_id":"001099012345","purpose":")" + std::string(20000, 'x') + "\"}";
  expect_problem(verify(big), 413);
}

TEST_F(PopulationApi, OversizedHeadersAre431) {
  const std::string reply =
      raw_exchange(stack_->api_port(), "POST /v1/population/verify HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                           std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 431", 0), 0U) << reply.substr(0, 200);
  EXPECT_NE(reply.find("application/problem+json"), std::string::npos);
}

TEST_F(PopulationApi, WrongContentTypeIs415) {
  const auto r = http_call(
      stack_->api_port(), "POST", "/v1/population/verify", "{}",
      {{"Authorization", std::string("Bearer ") + kMinistryKey}, {"Content-Type", "text/plain"}});
  expect_problem(r, 415);
}

TEST_F(PopulationApi, GetIs405AndUnknownPathIs404) {
  const auto g = http_call(stack_->api_port(), "GET", "/v1/population/verify");
  expect_problem(g, 405);
  EXPECT_EQ(g.header("allow"), "POST");
  expect_problem(http_call(stack_->api_port(), "POST", "/v1/nothing", "{}"), 404);
}

TEST_F(PopulationApi, EveryResponseCarriesRequestIdAndTraceparent) {
  const std::string tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const auto ok = http_call(stack_->api_port(), "POST", "/v1/population/verify",
                            verify_body(subject_.full_name, ""),
                            {{"Authorization", std::string("Bearer ") + kMinistryKey},
                             {"Content-Type", "application/json"},
                             {"traceparent", tp}});
  const auto bad = verify("{");
  const auto unauth = verify("{}", "");
  for (const auto* r : {&ok, &bad, &unauth}) EXPECT_EQ(r->header("x-request-id").size(), 32U);
  EXPECT_NE(ok.header("x-request-id"), bad.header("x-request-id"));
  EXPECT_EQ(ok.header("traceparent").substr(3, 32), "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST_F(PopulationApi, MalformedHttpIs400AndServerKeepsServing) {
  const std::string reply = raw_exchange(stack_->api_port(), "GARBAGE\r\n\r\n");
  EXPECT_NE(reply.find("400"), std::string::npos) << reply;
  EXPECT_EQ(verify(verify_body(subject_.full_name, "")).status, 200);
}

TEST_F(PopulationApi, KeepAliveServesSeveralRequestsOnOneConnection) {
  const std::string body = verify_body(subject_.full_name, "");
  std::string req =
      "POST /v1/population/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      std::string(kMinistryKey) +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  std::string last = req;
  last.insert(last.find("\r\n\r\n"), "\r\nConnection: close");
  const std::string reply = raw_exchange(stack_->api_port(), req + req + last);
  std::size_t count = 0;
  for (std::size_t pos = 0; (pos = reply.find("HTTP/1.1 200 OK", pos)) != std::string::npos; ++pos)
    ++count;
  EXPECT_EQ(count, 3U) << reply;
}

TEST_F(PopulationApi, AdminEndpointsAnswer) {
  EXPECT_EQ(http_call(stack_->admin_port(), "GET", "/healthz").status, 200);
  EXPECT_EQ(http_call(stack_->admin_port(), "GET", "/readyz").status, 200);
  verify(verify_body(subject_.full_name, ""));
  const auto m = http_call(stack_->admin_port(), "GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(
      m.body.find(
          R"(lgsp_gateway_requests_total{partner="ministry",route="/v1/population/verify",status="200"})"),
      std::string::npos);
  EXPECT_NE(m.body.find("lgsp_gateway_request_duration_seconds_bucket"), std::string::npos);
  EXPECT_NE(m.body.find(R"(lgsp_connector_requests_total{outcome="ok",registry="population"})"),
            std::string::npos);
  // Personal data never reaches a label.
  EXPECT_EQ(m.body.find(subject_.citizen_id), std::string::npos);
}

}  // namespace
}  // namespace lgsp::testing
