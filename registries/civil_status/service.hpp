#pragma once

#include <boost/json/object.hpp>
#include <functional>

#include "connectors/registry_service.hpp"
#include "registries/civil_status/store.hpp"

namespace lgsp::registries::civil_status {

/// The civil-status registry's answers, by citizen ID.
/// lookup: the citizen's births, deaths and marriages, oldest first, each minimised to the
/// fields; 404 when the registry holds nothing of theirs.
/// verify: grades only the claims the partner made, so the answer tells it nothing it did not
/// ask: `deceased` (true/false) and `date_of_death`; `spouse_citizen_id` and `marriage_date`
/// (were these two married, on this date?). Dates grade exact, partial (the year alone, when
/// only a year was claimed) or mismatch. A marriage's other spouse is named in
/// subject_citizen_ids, so their access log shows the question too.
class CivilStatusService final : public connectors::RegistryService {
 public:
  using Clock = std::function<std::int64_t()>;
  CivilStatusService(CivilStatusStore& store, Clock now_ms);

  std::string_view registry() const override { return "civil-status"; }
  bus::v1::Reply handle(const bus::v1::Request& request) override;

 private:
  CivilStatusStore& store_;
  Clock now_ms_;
};

/// The event's fields named in `fields`, as the answer's JSON carries them.
boost::json::object event_json(const CivilEvent& e,
                               const google::protobuf::RepeatedPtrField<std::string>& fields);

}  // namespace lgsp::registries::civil_status
