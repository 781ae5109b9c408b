#include "domain/name_variants.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "domain/names.hpp"

// One test per rule of docs/names.md, positive and negative cases side by side.

namespace lgsp::domain {
namespace {

// EXACT under every partner policy.
void expect_same_name(std::string_view a, std::string_view b) {
  const auto c = compare_names(a, b);
  EXPECT_TRUE(c.comparable) << a << " / " << b;
  EXPECT_TRUE(c.same_orthographic_variant) << a << " / " << b;
  EXPECT_TRUE(c.same_without_diacritics) << a << " / " << b;
}

// PARTIAL for a diacritic-insensitive partner, MISMATCH for a strict one.
void expect_same_without_diacritics_only(std::string_view a, std::string_view b) {
  const auto c = compare_names(a, b);
  EXPECT_TRUE(c.comparable) << a << " / " << b;
  EXPECT_FALSE(c.same_orthographic_variant) << a << " / " << b;
  EXPECT_TRUE(c.same_without_diacritics) << a << " / " << b;
}

// MISMATCH under every policy.
void expect_different_names(std::string_view a, std::string_view b) {
  const auto c = compare_names(a, b);
  EXPECT_FALSE(c.same_orthographic_variant) << a << " / " << b;
  EXPECT_FALSE(c.same_without_diacritics) << a << " / " << b;
}

TEST(NameVariants, TonePlacementOldAndNewStyleAreTheSameName) {
  expect_same_name("Hòa", "Hoà");
  expect_same_name("Thủy", "Thuỷ");
  expect_same_name("Thúy", "Thuý");
  expect_same_name("Khỏe", "Khoẻ");
  expect_same_name("Hòe", "Hoè");
  expect_same_name("Ủy", "Uỷ");
  expect_same_name("Nguyễn Thị Thủy", "NGUYỄN THỊ THUỶ");
  expect_same_name("Lê Thụy Hòa", "Lê Thuỵ Hoà");
}

TEST(NameVariants, ToneWrittenOnTheUOfQuOrTheIOfGiIsTheSameSyllable) {
  expect_same_name("Qúy", "Quý");
  expect_same_name("Gìa", "Già");
}

TEST(NameVariants, ToneMisplacedWithinOneSyllableIsTheSameName) {
  expect_same_name("Hòang", "Hoàng");
  expect_same_name("Hùynh", "Huỳnh");
  expect_same_name("Đòan", "Đoàn");
  expect_same_name("Muà", "Mùa");
}

TEST(NameVariants, CanonicalFormPutsTheToneOnTheMainVowelInNfc) {
  EXPECT_EQ(canonical_name("Hòa"), "ho\u00E0");  // "hoà", precomposed à
  EXPECT_EQ(canonical_name("Thủy"), "thu\u1EF7");
  EXPECT_EQ(canonical_name("Nguyễn"), "nguy\u1EC5n");
  EXPECT_EQ(canonical_name("Người"), "ng\u01B0\u1EDDi");
}

TEST(NameVariants, DifferentTonesOrToneAgainstNoToneAreDifferentNames) {
  expect_different_names("Hòa", "Hóa");
  expect_different_names("Thủy", "Thùy");
  expect_different_names("Hoà", "Hoà Hoà");
  // With diacritics on both sides a missing tone is a different name, not a lost mark.
  expect_different_names("Nguyên", "Nguyễn");
  // Plain ASCII "Hoa" may be "Hoà" with its marks lost, so only a partial answer.
  expect_same_without_diacritics_only("Hoa", "Hoà");
}

TEST(NameVariants, IAndYAreDifferentLettersInNames) {
  expect_different_names("Vy", "Vi");
  expect_different_names("Lý", "Lí");
  expect_different_names("Mỹ", "Mĩ");
  expect_different_names("Kỳ", "Kì");
  expect_different_names("Quý", "Quí");
  expect_different_names("Thúy", "Thúi");
  expect_different_names("Nguyễn Thị Thy", "Nguyễn Thị Thi");
  expect_different_names("Tran Thi Vy", "Trần Thị Vi");
}

TEST(NameVariants, PrecomposedAndCombiningMarksAreTheSameName) {
  // "Nguyễn Văn An" fully decomposed (NFD).
  expect_same_name("Nguye\xCC\x82\xCC\x83n Va\xCC\x86n An", "Nguyễn Văn An");
  // Tone before the vowel mark, an order no keyboard should produce but some do.
  expect_same_name("Nguye\xCC\x83\xCC\x82n", "Nguyễn");
}

TEST(NameVariants, UpperCaseOnlyIsTheSameName) {
  expect_same_name("NGUYỄN VĂN AN", "Nguyễn Văn An");
  expect_same_name("ĐẶNG THỊ NGỌC HÂN", "Đặng Thị Ngọc Hân");
}

TEST(NameVariants, EthAndAfricanDLookAlikesAreDStroke) {
  expect_same_name("\xC3\x90\xE1\xBA\xB7ng V\xC4\x83n \xC3\x90\xE1\xBB\xA9\x63", "Đặng Văn Đức");
  expect_same_name("\xC6\x89o\xC3\xA0n", "Đoàn");  // U+0189
  expect_same_name("\xC3\xB0o\xC3\xA0n", "đoàn");  // U+00F0
}

TEST(NameVariants, InvisibleCharactersAreIgnoredAndOddSpacesAreSpaces) {
  expect_same_name("Nguy\u200Bễn\u00AD Văn\uFEFF An", "Nguyễn Văn An");
  expect_same_name("  Nguyễn\u00A0Văn\u3000An\t", "Nguyễn Văn An");
  expect_same_name("Nguyễn\u2028Văn\nAn", "Nguyễn Văn An");
}

TEST(NameVariants, HyphensCommasAndFullStopsSeparateNameParts) {
  expect_same_name("Nguyễn-Văn-An", "Nguyễn Văn An");
  expect_same_name("NGUYỄN, VĂN AN.", "Nguyễn Văn An");
  expect_same_name("Y\u2010Ngông Niê Kdăm", "Y Ngông Niê Kdăm");  // U+2010 HYPHEN
}

TEST(NameVariants, CurlyApostropheIsTheApostropheAndStillMatters) {
  expect_same_name("H\u2019Hen Niê", "H'Hen Niê");
  expect_same_name("H\u02BCHen Niê", "H'Hen Niê");
  expect_different_names("HHen Niê", "H'Hen Niê");
}

TEST(NameVariants, FullWidthLettersAreTheSameName) {
  expect_same_name("\xEF\xBC\xAE\xEF\xBD\x87\xEF\xBD\x95\xEF\xBD\x99\xEF\xBD\x85\xEF\xBD\x8E An",
                   "Nguyen An");
}

TEST(NameVariants, AsciiWithoutDiacriticsIsTheSameNameOnlyWithoutDiacritics) {
  expect_same_without_diacritics_only("Nguyen Van An", "Nguyễn Văn An");
  expect_same_without_diacritics_only("NGUYEN VAN AN", "Nguyễn Văn An");
  expect_same_without_diacritics_only("Nguyễn Văn An", "Nguyen Van An");  // symmetric
}

TEST(NameVariants, AsciiDForDStrokeIsTheSameNameOnlyWithoutDiacritics) {
  expect_same_without_diacritics_only("Dang Van Dung", "Đặng Văn Dũng");
  expect_same_without_diacritics_only("Doan Thi Hoa", "Đoàn Thị Hoa");
}

TEST(NameVariants, DiacriticsLostOnSomeSyllablesOnlyIsTheSameNameWithoutDiacritics) {
  expect_same_without_diacritics_only("Nguyễn Van An", "Nguyễn Văn An");
  expect_same_without_diacritics_only("Tran Thị Thuy", "Trần Thị Thuỷ");
}

TEST(NameVariants, ConflictingDiacriticsAreDifferentNamesEvenWithoutDiacritics) {
  expect_different_names("Doãn Văn An", "Đoàn Văn An");
  expect_different_names("Dặng Văn An", "Đặng Văn An");
  expect_different_names("Lê Văn Hóa", "Lê Văn Hòa");
  // Folding alone would call these equal; the plain ASCII syllable is no licence for the
  // others.
  EXPECT_EQ(fold_diacritics("Doãn Van An"), fold_diacritics("Đoàn Văn An"));
  expect_different_names("Doãn Van An", "Đoàn Văn An");
}

TEST(NameVariants, OrderOfNamePartsMatters) {
  expect_different_names("An Nguyễn Văn", "Nguyễn Văn An");
  expect_different_names("Van An Nguyen", "Nguyễn Văn An");
  expect_different_names("Lan Mai", "Mai Lan");
}

TEST(NameVariants, OmittedOrAbbreviatedMiddleNameIsADifferentName) {
  expect_different_names("Nguyễn An", "Nguyễn Văn An");
  expect_different_names("Nguyễn V. An", "Nguyễn Văn An");
  expect_different_names("Hoàng Ngọc Tường", "Hoàng Phủ Ngọc Tường");
}

TEST(NameVariants, JoinedOrSplitSyllablesAreADifferentName) {
  expect_different_names("NguyễnVăn An", "Nguyễn Văn An");
  expect_different_names("Nguyen Vanan", "Nguyễn Văn An");
}

TEST(NameVariants, TelexVniAndViqrLeftoversAreNotDecoded) {
  expect_different_names("Nguyeenx Vawn An", "Nguyễn Văn An");
  expect_different_names("Nguye6n4 Va8n An", "Nguyễn Văn An");
  expect_different_names("Nguye^~n Va(n An", "Nguyễn Văn An");
  expect_different_names("DDawngj", "Đặng");
}

TEST(NameVariants, CyrillicLookAlikesAreNotFolded) {
  // "Ngọc" with CYRILLIC SMALL LETTER O (U+043E) under the dot.
  expect_different_names("Ng\xD0\xBE\xCC\xA3\x63", "Ngọc");
}

TEST(NameVariants, WordsThatAreNotVietnameseSyllablesKeepTheirMarks) {
  EXPECT_EQ(canonical_name("Nuñez"), "nu\u00F1ez");
  expect_different_names("José", "Jóse");
  // Two tone marks on one syllable: compared as written, never repaired.
  expect_different_names("Nguye\xCC\x82\xCC\x83n\xCC\x81", "Nguyễn");
}

TEST(NameVariants, InvalidOrEmptyNamesAreNotComparable) {
  EXPECT_FALSE(canonical_name("Nguy\xFF"));
  EXPECT_FALSE(compare_names("Nguy\xFF", "Nguy\xFF").comparable);
  EXPECT_FALSE(compare_names("", "").comparable);
  EXPECT_FALSE(compare_names(" -,. \u200B", " ").comparable);
  EXPECT_EQ(canonical_name("  \u200B "), "");
}

TEST(NameVariants, CanonicalNameIsIdempotent) {
  for (const char* name : {"Hòa", "NGUYỄN, THỊ THỦY.", "H\u2019Hen Niê", "Ðặng", "Nuñez",
                           "Nguye\xCC\x82\xCC\x83n\xCC\x81", "gìa", "Qúy"}) {
    const auto once = canonical_name(name);
    ASSERT_TRUE(once) << name;
    EXPECT_EQ(canonical_name(*once), once) << name;
  }
}

TEST(NameVariants, WhatTodaysRuleCallsExactStaysExact) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"NGUYỄN  Văn An", "Nguyễn Văn An"},
      {"Nguye\xCC\x82\xCC\x83n Va\xCC\x86n An", "nguyễn văn an"},
      {"  Nguyễn \t Văn\u00A0 An  ", "Nguyễn Văn An"},
      {"Hòa", "HÒA"},
  };
  for (const auto& [a, b] : pairs) {
    ASSERT_EQ(normalize_name(a), normalize_name(b)) << a;
    expect_same_name(a, b);
  }
}

TEST(NameVariants, ComparisonIsSymmetric) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"Nguyen Van An", "Nguyễn Văn An"},
      {"Hòa", "Hoà"},
      {"Vy", "Vi"},
      {"Doãn", "Đoàn"},
      {"Dang", "Đặng"},
      {"Nguyễn An", "Nguyễn Văn An"},
  };
  for (const auto& [a, b] : pairs) {
    const auto ab = compare_names(a, b);
    const auto ba = compare_names(b, a);
    EXPECT_EQ(ab.same_orthographic_variant, ba.same_orthographic_variant) << a;
    EXPECT_EQ(ab.same_without_diacritics, ba.same_without_diacritics) << a;
  }
}

}  // namespace
}  // namespace lgsp::domain
