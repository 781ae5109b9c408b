#include "gateway/validation.hpp"

#include <gtest/gtest.h>

namespace lgsp::gateway {
namespace {

std::vector<http::FieldError> errors(const Parsed<VerifyInput>& p) {
  const auto* e = std::get_if<std::vector<http::FieldError>>(&p);
  return e != nullptr ? *e : std::vector<http::FieldError>{};
}
std::vector<http::FieldError> errors(const Parsed<LookupInput>& p) {
  const auto* e = std::get_if<std::vector<http::FieldError>>(&p);
  return e != nullptr ? *e : std::vector<http::FieldError>{};
}
bool names(const std::vector<http::FieldError>& errs, const std::string& field) {
  for (const auto& e : errs) {
    if (e.field == field) return true;
  }
  return false;
}

TEST(VerifyValidation, AcceptsTheContractExample) {
  const auto p = parse_population_verify(
      R"({"citizen_id":"001099012345","full_name":"Nguyễn Văn An","date_of_birth":"1999-05-01",
          "gender":"male","purpose":"telecom-subscriber-registration"})");
  ASSERT_TRUE(std::holds_alternative<VerifyInput>(p));
  const auto& in = std::get<VerifyInput>(p);
  EXPECT_EQ(in.citizen_id, "001099012345");
  EXPECT_EQ(in.full_name, "Nguyễn Văn An");
  EXPECT_EQ(in.who.purpose, "telecom-subscriber-registration");
}

TEST(VerifyValidation, MalformedJsonNamesTheBody) {
  const auto e = errors(parse_population_verify("{\"citizen_id\": "));
  ASSERT_EQ(e.size(), 1U);
  EXPECT_EQ(e[0].field, "body");
}

TEST(VerifyValidation, NonObjectBodyIsRefused) {
  EXPECT_TRUE(names(errors(parse_population_verify("[1,2]")), "body"));
  EXPECT_TRUE(names(errors(parse_population_verify("")), "body"));
}

TEST(VerifyValidation, BadCitizenIdIsNamed) {
  const auto e =
      errors(parse_population_verify(R"({"citizen_id":"12345","full_name":"A","purpose":"p"})"));
  ASSERT_EQ(e.size(), 1U);
  EXPECT_EQ(e[0].field, "citizen_id");
  EXPECT_NE(e[0].detail.find("12 digits"), std::string::npos);
}

TEST(VerifyValidation, MissingPurposeIsNamed) {
  EXPECT_TRUE(
      names(errors(parse_population_verify(R"({"citizen_id":"001099012345","full_name":"A"})")),
            "purpose"));
}

TEST(VerifyValidation, NonIsoDateSaysIso) {
  const auto e = errors(parse_population_verify(
      R"({"citizen_id":"001099012345","date_of_birth":"01/05/1999","purpose":"p"})"));
  ASSERT_EQ(e.size(), 1U);
  EXPECT_EQ(e[0].field, "date_of_birth");
  EXPECT_NE(e[0].detail.find("ISO 8601"), std::string::npos);
}

TEST(VerifyValidation, NeedsAtLeastOneClaim) {
  EXPECT_FALSE(
      errors(parse_population_verify(R"({"citizen_id":"001099012345","purpose":"p"})")).empty());
}

TEST(VerifyValidation, ReportsEveryProblemTogether) {
  const auto e = errors(
      parse_population_verify(R"({"citizen_id":1,"gender":"m","extra":true,"full_name":"A"})"));
  EXPECT_TRUE(names(e, "citizen_id"));
  EXPECT_TRUE(names(e, "gender"));
  EXPECT_TRUE(names(e, "extra"));
  EXPECT_TRUE(names(e, "purpose"));
}

TEST(VerifyValidation, WrongTypeIsNamed) {
  const auto e = errors(
      parse_population_verify(R"({"citizen_id":"001099012345","full_name":42,"purpose":"p"})"));
  ASSERT_FALSE(e.empty());
  EXPECT_EQ(e[0].field, "full_name");
}

TEST(LookupValidation, FieldsOptionalAndChecked) {
  const auto ok = parse_population_lookup(R"({"citizen_id":"001099012345","purpose":"p"})");
  ASSERT_TRUE(std::holds_alternative<LookupInput>(ok));
  EXPECT_FALSE(std::get<LookupInput>(ok).fields);

  const auto bad = errors(parse_population_lookup(
      R"({"citizen_id":"001099012345","purpose":"p","fields":["full_name","salary"]})"));
  ASSERT_EQ(bad.size(), 1U);
  EXPECT_EQ(bad[0].field, "fields");
  EXPECT_NE(bad[0].detail.find("salary"), std::string::npos);

  EXPECT_TRUE(names(
      errors(parse_population_lookup(R"({"citizen_id":"001099012345","purpose":"p","fields":[]})")),
      "fields"));
}

}  // namespace
}  // namespace lgsp::gateway
