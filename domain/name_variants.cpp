#include "domain/name_variants.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "domain/names.hpp"

namespace lgsp::domain {
namespace {

struct FreeDeleter {
  void operator()(utf8proc_uint8_t* p) const { std::free(p); }
};

// The five Vietnamese tone marks as combining characters (NFD).
constexpr std::u32string_view kToneMarks = U"\u0300\u0301\u0303\u0309\u0323";
// Marks that make another vowel letter (ă â ê ô ơ ư) rather than a tone.
constexpr char32_t kBreve = 0x0306;
constexpr char32_t kCircumflex = 0x0302;
constexpr char32_t kHorn = 0x031B;

constexpr std::u32string_view kVowels = U"aăâeêioôơuưy";
constexpr std::u32string_view kVowelsWithOwnMark = U"ăâêôơư";

// Longest first, so that "ngh" wins over "ng" and "gi"/"qu" over "g"/"q"; the empty onset
// last ("Uyên", "Ánh").
constexpr auto kOnsets = std::to_array<std::u32string_view>(
    {U"ngh", U"ng", U"gh", U"gi", U"kh", U"nh", U"ph", U"th", U"tr", U"ch",
     U"qu",  U"b",  U"c",  U"d",  U"đ",  U"g",  U"h",  U"k",  U"l",  U"m",
     U"n",   U"p",  U"r",  U"s",  U"t",  U"v",  U"x",  U""});
// Every vowel sequence Vietnamese spelling allows, tone marks lifted.
constexpr auto kNuclei = std::to_array<std::u32string_view>(
    {U"a",   U"ă",   U"â",   U"e",   U"ê",   U"i",   U"o",   U"ô",   U"ơ",   U"u",   U"ư",   U"y",
     U"ai",  U"ao",  U"au",  U"âu",  U"ay",  U"ây",  U"eo",  U"êu",  U"ia",  U"iê",  U"iu",  U"oa",
     U"oă",  U"oe",  U"oi",  U"ôi",  U"ơi",  U"oo",  U"ôô",  U"ua",  U"uâ",  U"ưa",  U"uê",  U"ui",
     U"ưi",  U"uô",  U"uơ",  U"ươ",  U"ưu",  U"uy",  U"yê",  U"iêu", U"oai", U"oao", U"oay", U"oeo",
     U"uây", U"uôi", U"ươi", U"ươu", U"uya", U"uyê", U"uyu", U"yêu"});
constexpr auto kCodas =
    std::to_array<std::u32string_view>({U"", U"c", U"ch", U"m", U"n", U"ng", U"nh", U"p", U"t"});

template <std::size_t N>
bool is_one_of(std::u32string_view s, const std::array<std::u32string_view, N>& set) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

bool is_vowel(char32_t c) { return kVowels.find(c) != std::u32string_view::npos; }

// Keyboards, fonts and OCR produce letters that look exactly like "Đ"/"đ" (the eth was common
// on Vietnamese web pages); no Vietnamese name contains them, so they can only mean "đ".
utf8proc_int32_t map_look_alike(utf8proc_int32_t cp, void* /*unused*/) {
  switch (cp) {
    case 0x00D0:  // Ð LATIN CAPITAL LETTER ETH
    case 0x00F0:  // ð LATIN SMALL LETTER ETH
    case 0x0189:  // Ɖ LATIN CAPITAL LETTER AFRICAN D
    case 0x0256:  // ɖ LATIN SMALL LETTER D WITH TAIL
      return 0x0111;
    default:
      return cp;
  }
}

// NFKD + case fold + default-ignorables stripped + "lumped" punctuation (curly apostrophes to
// "'", every dash to "-", every space to " "), as code points. Decomposed, so that tone marks
// are separate characters that can be moved.
std::optional<std::u32string> decompose_folded(std::string_view name) {
  utf8proc_uint8_t* raw = nullptr;
  const utf8proc_ssize_t len = utf8proc_map_custom(
      reinterpret_cast<const utf8proc_uint8_t*>(name.data()),
      static_cast<utf8proc_ssize_t>(name.size()), &raw,
      static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE |
                                     UTF8PROC_CASEFOLD | UTF8PROC_IGNORE | UTF8PROC_LUMP),
      map_look_alike, nullptr);
  if (len < 0) return std::nullopt;
  const std::unique_ptr<utf8proc_uint8_t, FreeDeleter> folded(raw);
  std::u32string out;
  const utf8proc_uint8_t* p = folded.get();
  for (utf8proc_ssize_t left = len; left > 0;) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) return std::nullopt;
    out.push_back(static_cast<char32_t>(cp));
    p += n;
    left -= n;
  }
  return out;
}

// Name parts are separated by white space in civil records; partner systems also send
// "Nguyễn-Văn-An" or "NGUYEN, VAN AN". A registered name is made of letters (BLDS 2015
// art. 26: no digits, no characters that are not letters), so these can only separate parts.
bool is_separator(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') return true;
  if (c == '-' || c == ',' || c == '.') return true;
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

std::vector<std::u32string> split_words(std::u32string_view name) {
  std::vector<std::u32string> words;
  std::u32string word;
  for (const char32_t c : name) {
    if (!is_separator(c)) {
      word.push_back(c);
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

// "a" + breve -> "ă" and so on; 0 when the pair is not a Vietnamese letter.
char32_t with_vowel_mark(char32_t base, char32_t mark) {
  if (mark == kBreve && base == U'a') return U'ă';
  if (mark == kCircumflex && base == U'a') return U'â';
  if (mark == kCircumflex && base == U'e') return U'ê';
  if (mark == kCircumflex && base == U'o') return U'ô';
  if (mark == kHorn && base == U'o') return U'ơ';
  if (mark == kHorn && base == U'u') return U'ư';
  return 0;
}

// A word as its letters (precomposed, tone-less) and its single tone mark, if any.
struct ToneLifted {
  std::u32string letters;
  char32_t tone = 0;
};

// nullopt when the word is not spelled with Vietnamese letters, carries two tones, or puts a
// tone on a consonant ("ñ" in "Nuñez"): such a word is compared as written, never rewritten.
std::optional<ToneLifted> lift_tone(std::u32string_view word) {
  ToneLifted out;
  std::size_t tone_on = 0;
  for (const char32_t c : word) {
    if ((c >= U'a' && c <= U'z') || c == U'đ') {
      out.letters.push_back(c);
    } else if (out.letters.empty()) {
      return std::nullopt;
    } else if (kToneMarks.find(c) != std::u32string_view::npos) {
      if (out.tone != 0) return std::nullopt;
      out.tone = c;
      tone_on = out.letters.size() - 1;
    } else {
      const char32_t letter = with_vowel_mark(out.letters.back(), c);
      if (letter == 0) return std::nullopt;
      out.letters.back() = letter;
    }
  }
  if (out.tone != 0 && !is_vowel(out.letters[tone_on])) return std::nullopt;
  return out;
}

bool is_nucleus(std::u32string_view v) { return is_one_of(v, kNuclei); }

// Length of the onset of a well-formed Vietnamese syllable (onset + vowels + coda), or
// nullopt. "gi" and "qu" are onsets when a vowel follows ("già", "quý"), so a tone written on
// their i/u ("gìa", "qúy") is a misplaced tone of the same syllable.
std::optional<std::size_t> onset_length(std::u32string_view letters) {
  for (const std::u32string_view onset : kOnsets) {
    if (!letters.starts_with(onset)) continue;
    const std::u32string_view rest = letters.substr(onset.size());
    const auto vowels_end =
        std::find_if(rest.begin(), rest.end(), [](char32_t c) { return !is_vowel(c); }) -
        rest.begin();
    if (vowels_end == 0) continue;
    if (is_nucleus(rest.substr(0, vowels_end)) && is_one_of(rest.substr(vowels_end), kCodas)) {
      return onset.size();
    }
  }
  return std::nullopt;
}

// Which vowel of the nucleus carries the tone, by the "new style" of QĐ 1989/QĐ-BGDĐT art. 8
// (the main vowel): a vowel with its own mark wins (the last one in "ươ"); in oa, oe, uy the
// second letter (hoà, khoẻ, thuỷ); otherwise the last vowel before a final consonant, else
// the first (mía, lúa, mùi). Both the old and the new style reach the same syllable.
std::size_t tone_slot(std::u32string_view nucleus, bool has_coda) {
  if (nucleus.size() == 1) return 0;
  const std::size_t marked = nucleus.find_last_of(kVowelsWithOwnMark);
  if (marked != std::u32string_view::npos) return marked;
  if (nucleus.starts_with(U"oa") || nucleus.starts_with(U"oe") || nucleus.starts_with(U"uy")) {
    return 1;
  }
  if (has_coda) return nucleus.size() - 1;
  return nucleus.size() == 3 ? 1 : 0;
}

// The word with its tone mark moved to the canonical vowel; unchanged when the word is not a
// Vietnamese syllable with exactly one tone.
std::u32string place_tone(const std::u32string& word) {
  const auto lifted = lift_tone(word);
  if (!lifted || lifted->tone == 0) return word;
  const std::u32string_view letters = lifted->letters;
  const auto onset = onset_length(letters);
  if (!onset) return word;
  const std::u32string_view rest = letters.substr(*onset);
  const std::size_t vowels =
      std::find_if(rest.begin(), rest.end(), [](char32_t c) { return !is_vowel(c); }) -
      rest.begin();
  const std::size_t slot = *onset + tone_slot(rest.substr(0, vowels), vowels < rest.size());
  std::u32string out = lifted->letters;
  out.insert(out.begin() + static_cast<std::ptrdiff_t>(slot) + 1, lifted->tone);
  return out;
}

// UTF-8 of the words joined by single spaces, then NFC so the result reads like the input.
std::optional<std::string> join_composed(const std::vector<std::u32string>& words) {
  std::string joined;
  for (const auto& word : words) {
    if (!joined.empty()) joined.push_back(' ');
    for (const char32_t c : word) {
      utf8proc_uint8_t buf[4];
      const auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buf);
      joined.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
    }
  }
  utf8proc_uint8_t* raw = nullptr;
  const utf8proc_ssize_t len =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(joined.data()),
                   static_cast<utf8proc_ssize_t>(joined.size()), &raw,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (len < 0) return std::nullopt;
  const std::unique_ptr<utf8proc_uint8_t, FreeDeleter> composed(raw);
  return std::string(reinterpret_cast<const char*>(composed.get()), static_cast<std::size_t>(len));
}

std::vector<std::string_view> split_on_space(std::string_view s) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0; start <= s.size();) {
    const std::size_t end = std::min(s.find(' ', start), s.size());
    parts.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// Syllable by syllable: equal, or one side is plain ASCII (its diacritics were lost) and the
// two agree once folded. Canonical forms have single spaces and no empty parts.
bool same_where_diacritics_present(std::string_view a, std::string_view b) {
  const auto xs = split_on_space(a);
  const auto ys = split_on_space(b);
  if (xs.size() != ys.size()) return false;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (xs[i] == ys[i]) continue;
    if (!is_ascii(xs[i]) && !is_ascii(ys[i])) return false;
    const auto fx = fold_diacritics(xs[i]);
    const auto fy = fold_diacritics(ys[i]);
    if (!fx || !fy || *fx != *fy) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> canonical_name(std::string_view name) {
  const auto folded = decompose_folded(name);
  if (!folded) return std::nullopt;
  std::vector<std::u32string> words = split_words(*folded);
  for (auto& word : words) word = place_tone(word);
  return join_composed(words);
}

NameComparison compare_names(std::string_view claimed, std::string_view recorded) {
  NameComparison result;
  const auto a = canonical_name(claimed);
  if (!a || a->empty()) return result;
  // Equal bytes have equal canonical forms: a claim of the recorded name as written (most
  // claims) needs one canonicalisation, not two (utf8proc was the connector's largest cost
  // in bulk verification).
  const auto b = claimed == recorded ? a : canonical_name(recorded);
  if (!b || b->empty()) return result;
  result.comparable = true;
  result.same_orthographic_variant = *a == *b;
  result.same_without_diacritics =
      result.same_orthographic_variant || same_where_diacritics_present(*a, *b);
  return result;
}

}  // namespace lgsp::domain
