#pragma once

#include <functional>

#include <boost/json/object.hpp>

#include "connectors/registry_service.hpp"
#include "registries/vehicle/store.hpp"

namespace lgsp::registries::vehicle {

/// The vehicle registry's answers.
/// lookup: by plate (one vehicle, 404 if none) or by citizen ID (all their vehicles,
/// possibly none), minimised to the fields.
/// verify: does this plate belong to this citizen? Grades `owner_citizen_id` and reports
/// the fact `in_good_standing` (registered, not deregistered or reported stolen);
/// `match` = the citizen owns it and it is in good standing.
class VehicleService final : public connectors::RegistryService {
 public:
  using Clock = std::function<std::int64_t()>;
  VehicleService(VehicleStore& store, Clock now_ms);

  std::string_view registry() const override { return "vehicle"; }
  bus::v1::Reply handle(const bus::v1::Request& request) override;

 private:
  VehicleStore& store_;
  Clock now_ms_;
};

/// The record's fields named in `fields`, as the answer's JSON carries them.
boost::json::object record_json(const domain::VehicleRow& row,
                                const google::protobuf::RepeatedPtrField<std::string>& fields);

}  // namespace lgsp::registries::vehicle
