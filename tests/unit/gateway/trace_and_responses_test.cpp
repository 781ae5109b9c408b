#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "gateway/responses.hpp"
#include "observability/trace_context.hpp"

namespace lgsp::gateway {
namespace {

TEST(TraceContext, KeepsPartnersTraceIdWithNewSpan) {
  const std::string in = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const std::string out = obs::continue_trace(in);
  ASSERT_TRUE(obs::valid_traceparent(out));
  EXPECT_EQ(obs::trace_id_of(out), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_NE(out.substr(36, 16), "00f067aa0ba902b7");
}

TEST(TraceContext, StartsNewTraceWhenMissingOrInvalid) {
  for (const char* bad : {"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}) {
    const std::string out = obs::continue_trace(bad);
    EXPECT_TRUE(obs::valid_traceparent(out)) << bad;
  }
}

TEST(Responses, VerifyBodyCarriesGradesNotValues) {
  bus::v1::Reply r;
  r.set_request_id("rid");
  r.set_status(bus::v1::STATUS_OK);
  r.mutable_verify()->set_subject_found(true);
  r.mutable_verify()->set_match(false);
  auto* f = r.mutable_verify()->add_fields();
  f->set_field("date_of_birth");
  f->set_grade(bus::v1::GRADE_MISMATCH);
  r.mutable_source()->set_registry("population");
  r.mutable_source()->set_as_of_unix_ms(1795334400123);
  const auto v = boost::json::parse(verify_body(r)).as_object();
  EXPECT_EQ(v.at("match").as_bool(), false);
  EXPECT_EQ(v.at("subject_found").as_bool(), true);
  EXPECT_EQ(v.at("fields").at("date_of_birth").as_string(), "mismatch");
  EXPECT_EQ(v.at("source").at("as_of").as_string(), "2026-11-22T08:00:00.123Z");
  EXPECT_EQ(v.at("request_id").as_string(), "rid");
}

TEST(Responses, LookupBodyHasOnlyReleasedFields) {
  bus::v1::Reply r;
  r.set_answer_json(R"({"record":{"full_name":"Lê Thị Hoa"}})");
  const auto body = lookup_body(r, {"full_name", "gender"});
  ASSERT_TRUE(body);
  const auto v = boost::json::parse(*body).as_object();
  const auto& rec = v.at("record").as_object();
  EXPECT_EQ(rec.size(), 1U);
  EXPECT_EQ(rec.at("full_name").as_string(), "Lê Thị Hoa");
  EXPECT_TRUE(v.contains("source"));
}

TEST(Responses, LookupRefusesARegistryAnswerWithAFieldNotAsked) {
  bus::v1::Reply r;
  r.set_answer_json(R"({"record":{"full_name":"Lê Thị Hoa","date_of_birth":"1990-01-01"}})");
  EXPECT_FALSE(lookup_body(r, {"full_name"}).has_value());
  // The same in a list of records (a citizen's vehicles).
  r.set_answer_json(R"({"vehicles":[{"plate_number":"29A-123.45"},{"engine_number":"X"}]})");
  EXPECT_FALSE(lookup_members(r, {"plate_number"}).has_value());
  EXPECT_TRUE(lookup_members(r, {"plate_number", "engine_number"}).has_value());
}

TEST(Responses, LookupRefusesAMalformedOrMisshapenRegistryAnswer) {
  bus::v1::Reply r;
  for (const char* answer :
       {"", "not json", "[]", R"({"record":"Lê Thị Hoa"})",
        R"({"record":{"full_name":"x"},"source":{}})", R"({"vehicles":["29A-123.45"]})"}) {
    r.set_answer_json(answer);
    EXPECT_FALSE(lookup_members(r, {"full_name"}).has_value()) << answer;
  }
}

}  // namespace
}  // namespace lgsp::gateway
