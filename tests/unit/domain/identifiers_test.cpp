#include "domain/identifiers.hpp"

#include <gtest/gtest.h>

#include "domain/names.hpp"

namespace lgsp::domain {
namespace {

TEST(Plate, CanonicalFormFromCommonSpellings) {
  EXPECT_EQ(normalize_plate("29A-123.45"), "29A-123.45");
  EXPECT_EQ(normalize_plate("29A12345"), "29A-123.45");
  EXPECT_EQ(normalize_plate("29a 123 45"), "29A-123.45");
  EXPECT_EQ(normalize_plate("29A-1234"), "29A-1234");
  EXPECT_EQ(normalize_plate("59X1-234.56"), "59X1-234.56");
  EXPECT_EQ(normalize_plate("59X123456"), "59X1-234.56");
  EXPECT_EQ(normalize_plate("51F1-1234"), "51F1-1234");
}

TEST(Plate, RejectsMalformed) {
  for (const char* bad :
       {"", "ABC", "2A-12345", "29-12345", "29A-12", "29A-1234567", "29A!12345"}) {
    EXPECT_FALSE(normalize_plate(bad)) << bad;
  }
}

TEST(InsuranceNumbers, SinAndCardShapes) {
  EXPECT_TRUE(is_social_insurance_number("0123456789"));
  EXPECT_FALSE(is_social_insurance_number("012345678"));
  EXPECT_EQ(normalize_health_card("dn4010123456789"), "DN4010123456789");
  EXPECT_FALSE(normalize_health_card("DN6010123456789"));  // benefit level 1-5
  EXPECT_FALSE(normalize_health_card("D14010123456789"));
}

TEST(LegacyId, NineDigits) {
  EXPECT_TRUE(is_legacy_id_number("012345678"));
  EXPECT_FALSE(is_legacy_id_number("0123456789"));
}

TEST(FoldDiacritics, StripsMarksAndMapsDStroke) {
  EXPECT_EQ(fold_diacritics("Nguyễn Văn An"), "nguyen van an");
  EXPECT_EQ(fold_diacritics("Đặng Thị Dung"), "dang thi dung");
  EXPECT_EQ(fold_diacritics("NGUYEN  van AN"), "nguyen van an");
  // A combining mark standing alone folds away without leaving a space behind (found by
  // fuzz_identifiers): folding is idempotent.
  EXPECT_EQ(fold_diacritics("Vu Thi Chi \u0301"), "vu thi chi");
  EXPECT_EQ(fold_diacritics("Vu \u0301 Chi"), "vu chi");
  EXPECT_EQ(fold_diacritics(*fold_diacritics("Vu Thi Chi \u0301")), "vu thi chi");
}

}  // namespace
}  // namespace lgsp::domain
