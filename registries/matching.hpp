#pragma once

#include <string_view>

#include "bus/envelope.hpp"

namespace lgsp::registries {

using Grade = bus::v1::Grade;

/// Names compare after NFC normalisation, case folding and white-space collapsing:
/// "NGUYỄN  Văn An" in NFD is EXACT against "Nguyễn Văn An". With diacritic-insensitive
/// matching, names equal once diacritics are folded ("Nguyen Van An") are PARTIAL.
/// Anything else is MISMATCH.
Grade grade_name(std::string_view claimed, std::string_view recorded,
                 bus::v1::NameMatching mode = bus::v1::NAME_MATCHING_STRICT);

/// Dates: a full ISO 8601 date equal to the record is EXACT; a year alone ("1999") equal to
/// the record's year is PARTIAL; anything else MISMATCH.
Grade grade_date(std::string_view claimed, std::string_view recorded);

/// "male" / "female": equal is EXACT, else MISMATCH.
Grade grade_gender(std::string_view claimed, std::string_view recorded);

/// The partner's bar for `match`: every supplied field must reach it.
bool meets(Grade g, Grade required);

}  // namespace lgsp::registries
