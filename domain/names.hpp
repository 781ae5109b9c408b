#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lgsp::domain {

/// The comparable form of a person's name: Unicode NFC, case-folded, leading/trailing
/// white space removed and inner runs of white space collapsed to one ASCII space.
/// "NGUYỄN  Văn An" typed in NFD normalises to the same bytes as "Nguyễn Văn An".
/// nullopt when the input is not valid UTF-8.
std::optional<std::string> normalize_name(std::string_view name);

/// A name as a registry records it: NFC, white space trimmed and collapsed, case kept.
/// nullopt when the input is not valid UTF-8.
std::optional<std::string> tidy_name(std::string_view name);

/// normalize_name without the diacritics: marks stripped after decomposition, and "đ"
/// (a letter of its own, with no decomposition) mapped to "d" explicitly, so that
/// "Nguyen Van Dung" folds like "Nguyễn Văn Dũng" and "Dang" like "Đặng".
std::optional<std::string> fold_diacritics(std::string_view name);

/// True when the input is valid UTF-8 (what JSON strings must be anyway).
bool is_valid_utf8(std::string_view s);

}  // namespace lgsp::domain
