#include "domain/names.hpp"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>

namespace lgsp::domain {
namespace {

struct FreeDeleter {
  void operator()(utf8proc_uint8_t* p) const { std::free(p); }
};

bool is_space(utf8proc_int32_t cp) {
  const auto cat = utf8proc_category(cp);
  return cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' ||
         cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0 || cp < 0) return false;
    p += n;
    left -= n;
  }
  return true;
}

namespace {

/// NFC (case-folded when `fold`), white space trimmed and collapsed to one ASCII space.
std::optional<std::string> compose(std::string_view name, bool fold) {
  utf8proc_uint8_t* raw = nullptr;
  // COMPOSE|STABLE = NFC; CASEFOLD folds case before composition so "Ễ" and "ễ" agree.
  auto options = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
  if (fold) options |= UTF8PROC_CASEFOLD;
  const utf8proc_ssize_t len = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(name.data()),
                                            static_cast<utf8proc_ssize_t>(name.size()), &raw,
                                            static_cast<utf8proc_option_t>(options));
  if (len < 0) return std::nullopt;
  const std::unique_ptr<utf8proc_uint8_t, FreeDeleter> folded(raw);

  std::string out;
  out.reserve(static_cast<std::size_t>(len));
  bool pending_space = false;
  const utf8proc_uint8_t* p = folded.get();
  utf8proc_ssize_t left = len;
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) return std::nullopt;
    if (is_space(cp)) {
      pending_space = !out.empty();
    } else {
      if (pending_space) out.push_back(' ');
      pending_space = false;
      out.append(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
    }
    p += n;
    left -= n;
  }
  return out;
}

}  // namespace

std::optional<std::string> normalize_name(std::string_view name) { return compose(name, true); }

std::optional<std::string> tidy_name(std::string_view name) { return compose(name, false); }

std::optional<std::string> fold_diacritics(std::string_view name) {
  const auto normalized = normalize_name(name);
  if (!normalized) return std::nullopt;
  utf8proc_uint8_t* raw = nullptr;
  const utf8proc_ssize_t len = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(normalized->data()),
      static_cast<utf8proc_ssize_t>(normalized->size()), &raw,
      static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_STRIPMARK));
  if (len < 0) return std::nullopt;
  const std::unique_ptr<utf8proc_uint8_t, FreeDeleter> stripped(raw);
  const std::string_view in(reinterpret_cast<const char*>(stripped.get()),
                            static_cast<std::size_t>(len));
  // U+0111 "đ" (already case-folded) has no decomposition: map it by hand.
  static constexpr std::string_view kDStroke = "\xC4\x91";
  // Stripping a mark that stood alone (after a space, or at the end) can leave a doubled or
  // trailing space: collapse spaces again, so folding is idempotent.
  std::string out;
  out.reserve(in.size());
  bool pending_space = false;
  for (std::size_t i = 0; i < in.size();) {
    if (in[i] == ' ') {
      pending_space = !out.empty();
      ++i;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    if (in.substr(i, kDStroke.size()) == kDStroke) {
      out.push_back('d');
      i += kDStroke.size();
    } else {
      out.push_back(in[i++]);
    }
  }
  return out;
}

}  // namespace lgsp::domain
