#include "gateway/validation.hpp"

#include <gtest/gtest.h>

namespace lgsp::gateway {
namespace {

std::vector<http::FieldError> errors(std::string_view reg, std::string_view op,
                                     std::string_view body) {
  auto p = parse_request(reg, op, body);
  const auto* e = std::get_if<std::vector<http::FieldError>>(&p);
  return e != nullptr ? *e : std::vector<http::FieldError>{};
}
ParsedRequest ok(std::string_view reg, std::string_view op, std::string_view body) {
  auto p = parse_request(reg, op, body);
  if (auto* e = std::get_if<std::vector<http::FieldError>>(&p)) {
    ADD_FAILURE() << "unexpected error on field " << e->front().field << ": " << e->front().detail;
    return {};
  }
  return std::get<ParsedRequest>(p);
}
bool names(const std::vector<http::FieldError>& errs, const std::string& field) {
  for (const auto& e : errs) {
    if (e.field == field) return true;
  }
  return false;
}

TEST(PopulationVerify, AcceptsTheContractExample) {
  const auto p =
      ok("population", "verify",
         R"({"citizen_id":"001099012345","full_name":"Nguyễn Văn An","date_of_birth":"1999-05-01",
                        "gender":"male","purpose":"telecom-subscriber-registration"})");
  EXPECT_EQ(p.envelope.subject_key(), "citizen_id");
  EXPECT_EQ(p.envelope.subject(), "001099012345");
  EXPECT_EQ(p.envelope.claims().at("full_name"), "Nguyễn Văn An");
  EXPECT_EQ(p.envelope.purpose(), "telecom-subscriber-registration");
  EXPECT_EQ(p.envelope.operation(), bus::v1::OPERATION_VERIFY);
  EXPECT_EQ(p.envelope.registry(), "population");
}

TEST(PopulationVerify, MalformedJsonNamesTheBody) {
  const auto e = errors("population", "verify", "{\"citizen_id\": ");
  ASSERT_EQ(e.size(), 1U);
  EXPECT_EQ(e[0].field, "body");
  EXPECT_TRUE(names(errors("population", "verify", "[1,2]"), "body"));
  EXPECT_TRUE(names(errors("population", "verify", ""), "body"));
}

TEST(PopulationVerify, BadCitizenIdIsNamed) {
  const auto e =
      errors("population", "verify", R"({"citizen_id":"12345","full_name":"A","purpose":"p"})");
  ASSERT_EQ(e.size(), 1U);
  EXPECT_EQ(e[0].field, "citizen_id");
  EXPECT_NE(e[0].detail.find("12 digits"), std::string::npos);
}

TEST(PopulationVerify, LegacyNineDigitIdBecomesLegacySubject) {
  const auto p =
      ok("population", "verify", R"({"citizen_id":"123456789","gender":"male","purpose":"p"})");
  EXPECT_EQ(p.envelope.subject_key(), "legacy_id_number");
  EXPECT_EQ(p.envelope.subject(), "123456789");
}

TEST(PopulationVerify, MissingPurposeIsNamed) {
  EXPECT_TRUE(
      names(errors("population", "verify", R"({"citizen_id":"001099012345","full_name":"A"})"),
            "purpose"));
}

TEST(PopulationVerify, NonIsoDateSaysIso) {
  const auto e =
      errors("population", "verify",
             R"({"citizen_id":"001099012345","date_of_birth":"01/05/1999","purpose":"p"})");
  ASSERT_EQ(e.size(), 1U);
  EXPECT_EQ(e[0].field, "date_of_birth");
  EXPECT_NE(e[0].detail.find("ISO 8601"), std::string::npos);
}

// A year alone is graded partial when it agrees; only partners granted it may claim one.
TEST(PopulationVerify, YearAloneOnlyUnderThePartnersPolicy) {
  const std::string body = R"({"citizen_id":"001099012345","date_of_birth":"1999","purpose":"p"})";
  const auto e = errors("population", "verify", body);
  ASSERT_EQ(e.size(), 1U);
  EXPECT_EQ(e[0].field, "date_of_birth");
  EXPECT_NE(e[0].detail.find("year_only_dates"), std::string::npos) << e[0].detail;
  const auto p = parse_request("population", "verify", body, {.year_only_dates = true});
  ASSERT_TRUE(std::holds_alternative<ParsedRequest>(p));
  EXPECT_EQ(std::get<ParsedRequest>(p).envelope.claims().at("date_of_birth"), "1999");
}

TEST(PopulationVerify, GenderAcceptsVietnameseWords) {
  EXPECT_EQ(
      ok("population", "verify", R"({"citizen_id":"001099012345","gender":"nữ","purpose":"p"})")
          .envelope.claims()
          .at("gender"),
      "female");
  EXPECT_TRUE(names(
      errors("population", "verify", R"({"citizen_id":"001099012345","gender":"m","purpose":"p"})"),
      "gender"));
}

TEST(PopulationVerify, NeedsAtLeastOneClaim) {
  EXPECT_FALSE(
      errors("population", "verify", R"({"citizen_id":"001099012345","purpose":"p"})").empty());
}

TEST(PopulationVerify, ReportsEveryProblemTogether) {
  const auto e = errors("population", "verify",
                        R"({"citizen_id":1,"gender":"m","extra":true,"full_name":"A"})");
  EXPECT_TRUE(names(e, "citizen_id"));
  EXPECT_TRUE(names(e, "gender"));
  EXPECT_TRUE(names(e, "extra"));
  EXPECT_TRUE(names(e, "purpose"));
}

TEST(PopulationLookup, FieldsOptionalAndChecked) {
  EXPECT_FALSE(ok("population", "lookup", R"({"citizen_id":"001099012345","purpose":"p"})").fields);
  const auto bad =
      errors("population", "lookup",
             R"({"citizen_id":"001099012345","purpose":"p","fields":["full_name","salary"]})");
  ASSERT_EQ(bad.size(), 1U);
  EXPECT_EQ(bad[0].field, "fields");
  EXPECT_NE(bad[0].detail.find("salary"), std::string::npos);
  EXPECT_TRUE(names(
      errors("population", "lookup", R"({"citizen_id":"001099012345","purpose":"p","fields":[]})"),
      "fields"));
}

TEST(InsuranceLookup, BySinOrCitizenButNotBoth) {
  EXPECT_EQ(ok("insurance", "lookup", R"({"social_insurance_number":"0123456789","purpose":"p"})")
                .envelope.subject(),
            "0123456789");
  EXPECT_EQ(ok("insurance", "lookup", R"({"citizen_id":"001099012345","purpose":"p"})")
                .envelope.subject_key(),
            "citizen_id");
  EXPECT_FALSE(
      errors(
          "insurance", "lookup",
          R"({"citizen_id":"001099012345","social_insurance_number":"0123456789","purpose":"p"})")
          .empty());
  EXPECT_TRUE(
      names(errors("insurance", "lookup", R"({"social_insurance_number":"12","purpose":"p"})"),
            "social_insurance_number"));
}

TEST(InsuranceVerify, CardIsRequiredAndNormalised) {
  const auto p = ok(
      "insurance", "verify",
      R"({"citizen_id":"001099012345","health_insurance_card":"dn4010123456789","valid_on":"2026-01-31","purpose":"p"})");
  EXPECT_EQ(p.envelope.claims().at("health_insurance_card"), "DN4010123456789");
  EXPECT_EQ(p.envelope.claims().at("valid_on"), "2026-01-31");
  EXPECT_TRUE(names(errors("insurance", "verify", R"({"citizen_id":"001099012345","purpose":"p"})"),
                    "health_insurance_card"));
}

TEST(VehicleLookup, PlateIsNormalised) {
  const auto p = ok("vehicle", "lookup", R"({"plate_number":"29a12345","purpose":"p"})");
  EXPECT_EQ(p.envelope.subject_key(), "plate_number");
  EXPECT_EQ(p.envelope.subject(), "29A-123.45");
  EXPECT_TRUE(names(errors("vehicle", "lookup", R"({"plate_number":"ABC","purpose":"p"})"),
                    "plate_number"));
}

TEST(VehicleVerify, NeedsPlateAndClaimedOwner) {
  const auto p = ok("vehicle", "verify",
                    R"({"plate_number":"29A-123.45","citizen_id":"001099012345","purpose":"p"})");
  EXPECT_EQ(p.envelope.claims().at("owner_citizen_id"), "001099012345");
  EXPECT_TRUE(names(errors("vehicle", "verify", R"({"plate_number":"29A-123.45","purpose":"p"})"),
                    "citizen_id"));
}

TEST(CitizenProfile, RegistriesAreChecked) {
  const auto p = ok("citizen", "profile",
                    R"({"citizen_id":"001099012345","registries":["vehicle"],"purpose":"p"})");
  ASSERT_EQ(p.registries.size(), 1U);
  EXPECT_TRUE(names(errors("citizen", "profile",
                           R"({"citizen_id":"001099012345","registries":["tax"],"purpose":"p"})"),
                    "registries"));
}

}  // namespace
}  // namespace lgsp::gateway
