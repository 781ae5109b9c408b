#include "registries/matching.hpp"

#include "domain/name_variants.hpp"

namespace lgsp::registries {

Grade grade_name(std::string_view claimed, std::string_view recorded, bus::v1::NameMatching mode) {
  // The rules and their sources: docs/names.md.
  const auto c = domain::compare_names(claimed, recorded);
  if (c.same_orthographic_variant) return bus::v1::GRADE_EXACT;
  if (c.same_without_diacritics && mode == bus::v1::NAME_MATCHING_DIACRITIC_INSENSITIVE) {
    return bus::v1::GRADE_PARTIAL;
  }
  return bus::v1::GRADE_MISMATCH;
}

Grade grade_date(std::string_view claimed, std::string_view recorded) {
  if (claimed == recorded) return bus::v1::GRADE_EXACT;
  if (claimed.size() == 4 && recorded.substr(0, 4) == claimed) return bus::v1::GRADE_PARTIAL;
  return bus::v1::GRADE_MISMATCH;
}

Grade grade_gender(std::string_view claimed, std::string_view recorded) {
  return claimed == recorded ? bus::v1::GRADE_EXACT : bus::v1::GRADE_MISMATCH;
}

bool meets(Grade g, Grade required) {
  // Enum order is EXACT(1) < PARTIAL(2) < MISMATCH(3): lower is stronger.
  return g != bus::v1::GRADE_UNSPECIFIED && g <= required;
}

}  // namespace lgsp::registries
