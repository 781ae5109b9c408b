#pragma once

#include <functional>

#include <boost/json/object.hpp>

#include "connectors/registry_service.hpp"
#include "registries/insurance/store.hpp"

namespace lgsp::registries::insurance {

/// The social/health insurance registry's answers.
/// lookup: by citizen ID or social insurance number → the record minimised to the fields.
/// verify: is this health insurance card the citizen's, and does it cover the date
/// (default today)? Grades the card (`health_insurance_card`) and reports the fact
/// `valid_on_date`; `match` = the card is the citizen's and valid on that date.
class InsuranceService final : public connectors::RegistryService {
 public:
  using Clock = std::function<std::int64_t()>;  // unix ms
  InsuranceService(InsuranceStore& store, Clock now_ms);

  std::string_view registry() const override { return "insurance"; }
  bus::v1::Reply handle(const bus::v1::Request& request) override;

 private:
  InsuranceStore& store_;
  Clock now_ms_;
};

/// The record's fields named in `fields`, as the answer's JSON carries them.
boost::json::object record_json(const domain::InsuranceRow& row,
                                const google::protobuf::RepeatedPtrField<std::string>& fields);

}  // namespace lgsp::registries::insurance
