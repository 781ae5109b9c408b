#include "domain/citizen_id.hpp"

#include <gtest/gtest.h>

#include "domain/provinces.hpp"

namespace lgsp::domain {
namespace {

TEST(CitizenId, DecodesProvinceGenderAndBirthYear) {
  const auto c = check_citizen_id("001099012345");
  ASSERT_TRUE(c.info) << c.error;
  EXPECT_EQ(c.info->province_code, "001");
  EXPECT_EQ(c.info->gender, Gender::kMale);
  EXPECT_EQ(c.info->birth_year, 1999);
}

TEST(CitizenId, CenturyDigitGivesTwentyFirstCenturyFemale) {
  const auto c = check_citizen_id("079305000001");
  ASSERT_TRUE(c.info);
  EXPECT_EQ(c.info->gender, Gender::kFemale);
  EXPECT_EQ(c.info->birth_year, 2005);
}

TEST(CitizenId, RejectsWrongLengthWithReason) {
  const auto c = check_citizen_id("00109901234");
  EXPECT_FALSE(c.info);
  EXPECT_NE(c.error.find("12 digits"), std::string::npos);
}

TEST(CitizenId, RejectsNonDigits) { EXPECT_FALSE(check_citizen_id("00109901234A").info); }

TEST(CitizenId, RejectsUnknownProvinceCode) {
  // 003 is not a province code (Hà Giang is 002, Cao Bằng 004).
  const auto c = check_citizen_id("003099012345");
  EXPECT_FALSE(c.info);
  EXPECT_NE(c.error.find("province"), std::string::npos);
}

TEST(CitizenId, RejectsCenturyDigitBeyondSupportedYears) {
  EXPECT_FALSE(check_citizen_id("001499012345").info);
}

TEST(CitizenId, ErrorNeverEchoesTheId) {
  const auto c = check_citizen_id("003099012345");
  EXPECT_EQ(c.error.find("003099012345"), std::string::npos);
}

TEST(CitizenId, MakeRoundTripsThroughCheck) {
  const std::string id = make_citizen_id("096", Gender::kFemale, 2012, 42);
  EXPECT_EQ(id, "096312000042");
  const auto c = check_citizen_id(id);
  ASSERT_TRUE(c.info);
  EXPECT_EQ(c.info->birth_year, 2012);
  EXPECT_EQ(c.info->gender, Gender::kFemale);
}

TEST(Provinces, HasAllSixtyThreeSortedAndFindable) {
  ASSERT_EQ(provinces().size(), 63U);
  for (std::size_t i = 1; i < provinces().size(); ++i)
    EXPECT_LT(provinces()[i - 1].code, provinces()[i].code);
  ASSERT_NE(find_province("079"), nullptr);
  EXPECT_EQ(find_province("079")->name, "Hồ Chí Minh");
  EXPECT_EQ(find_province("099"), nullptr);
}

TEST(Gender, ParsesOnlyTheTwoRegistryValues) {
  EXPECT_EQ(parse_gender("male"), Gender::kMale);
  EXPECT_EQ(parse_gender("female"), Gender::kFemale);
  EXPECT_FALSE(parse_gender("Male"));
  EXPECT_FALSE(parse_gender(""));
}

}  // namespace
}  // namespace lgsp::domain
