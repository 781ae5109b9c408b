#pragma once

#include <optional>
#include <string>
#include <string_view>

// Accepted ways of writing the same Vietnamese name, and a comparison that tells a grader
// which of them two names differ by. The rules, their sources and worked examples are in
// docs/names.md; every rule there has a test in tests/unit/domain/name_variants_test.cpp.
// Pure functions: no I/O, no shared state, safe from any thread.

namespace lgsp::domain {

/// The form in which every accepted spelling of one name has the same bytes, so that
/// equality means "the same name" and nothing looser:
///  - Unicode NFKC and case folding (precomposed or combining marks, full-width letters,
///    upper-case-only systems);
///  - zero-width and other default-ignorable characters removed; runs of white space,
///    hyphens, commas and full stops become one ASCII space, none at either end;
///  - look-alikes of "Đ" (Icelandic eth U+00D0, African D U+0189) read as "đ", and curly
///    apostrophes as "'";
///  - in each syllable that parses as Vietnamese, the one tone mark moved to the main vowel
///    (QĐ 1989/QĐ-BGDĐT art. 8), so "hòa" and "hoà", "thủy" and "thuỷ", "qúy" and "quý"
///    agree. Letters are never changed: i and y stay apart ("Vi" is not "Vy") and so do d
///    and đ.
/// nullopt when the input is not valid UTF-8; an empty string when it holds no name.
std::optional<std::string> canonical_name(std::string_view name);

/// What compare_names found; the caller maps it to a grade under the partner's policy
/// (docs/names.md, "Grading"):
///   same_orthographic_variant              -> EXACT under every policy;
///   same_without_diacritics (and not above) -> PARTIAL if the partner is
///                                             diacritic-insensitive, else MISMATCH;
///   neither, or !comparable                -> MISMATCH.
/// same_orthographic_variant implies same_without_diacritics; both imply comparable.
struct NameComparison {
  /// Both names are valid UTF-8 and hold at least one character once cleaned.
  bool comparable = false;
  /// The canonical forms are equal: the same name in another accepted orthography.
  bool same_orthographic_variant = false;
  /// Equal once the diacritics that one side lacks are ignored: syllable by syllable, the
  /// two agree exactly, or one of them is plain ASCII ("Nguyen", "Dang") and they agree
  /// with diacritics folded. Diacritics present on both sides must agree, so "Hòa" and
  /// "Hóa", or "Doãn" and "Đoàn", are not the same name without diacritics.
  bool same_without_diacritics = false;
};

/// Compares a claimed name with the name a registry recorded. Symmetric: which side lost
/// its diacritics does not matter.
NameComparison compare_names(std::string_view claimed, std::string_view recorded);

}  // namespace lgsp::domain
