#include "domain/names.hpp"

#include <gtest/gtest.h>

namespace lgsp::domain {
namespace {

// "Nguyễn Văn An" with every letter decomposed (NFD): base letters plus combining marks.
const std::string kNfd = "Nguye\xCC\x82\xCC\x83n Va\xCC\x86n An";
const std::string kNfc = "Nguyễn Văn An";

TEST(NormalizeName, NfdAndNfcAgree) {
  ASSERT_NE(kNfd, kNfc);
  EXPECT_EQ(normalize_name(kNfd), normalize_name(kNfc));
}

TEST(NormalizeName, CaseIsFolded) {
  EXPECT_EQ(normalize_name("NGUYỄN VĂN AN"), normalize_name(kNfc));
}

TEST(NormalizeName, WhitespaceIsCollapsedAndTrimmed) {
  EXPECT_EQ(normalize_name("  Nguyễn \t Văn\u00A0 An  "), normalize_name(kNfc));
}

TEST(NormalizeName, DiacriticsStillMatter) {
  EXPECT_NE(normalize_name("Nguyen Van An"), normalize_name(kNfc));
}

TEST(NormalizeName, DStrokeIsNotD) { EXPECT_NE(normalize_name("Đặng"), normalize_name("Dặng")); }

TEST(NormalizeName, InvalidUtf8IsRejected) {
  EXPECT_FALSE(normalize_name("Nguy\xFF"));
  EXPECT_FALSE(is_valid_utf8("\xC3"));
  EXPECT_TRUE(is_valid_utf8(kNfc));
}

}  // namespace
}  // namespace lgsp::domain
