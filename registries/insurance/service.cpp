#include "registries/insurance/service.hpp"

#include <ctime>

#include "domain/dates.hpp"
#include "registries/answer.hpp"

namespace lgsp::registries::insurance {

namespace v1 = bus::v1;
using connectors::begin_verify;
using connectors::fail;
using connectors::grade;

namespace {

std::string today(std::int64_t unix_ms) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return domain::to_iso({tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday});
}

}  // namespace

InsuranceService::InsuranceService(InsuranceStore& store, Clock now_ms)
    : store_(store), now_ms_(std::move(now_ms)) {}

boost::json::object record_json(const domain::InsuranceRow& row,
                                const google::protobuf::RepeatedPtrField<std::string>& fields) {
  boost::json::object out;
  for (const auto& f : fields) {
    if (f == "social_insurance_number")
      out["social_insurance_number"] = row.social_insurance_number;
    else if (f == "health_insurance_card")
      out["health_insurance_card"] = row.health_insurance_card;
    else if (f == "citizen_id")
      out["citizen_id"] = row.citizen_id;
    else if (f == "status")
      out["status"] = row.status;
    else if (f == "coverage_start")
      out["coverage_start"] = row.coverage_start;
    else if (f == "coverage_end")
      out["coverage_end"] = row.coverage_end;
    else if (f == "benefit_level")
      out["benefit_level"] = row.benefit_level;
    else if (f == "registered_hospital")
      out["registered_hospital"] = boost::json::object{
          {"province", row.hospital_province}, {"facility_code", row.hospital_facility_code}};
  }
  return out;
}

v1::Reply InsuranceService::handle(const v1::Request& req) {
  if (req.operation() == v1::OPERATION_COMMAND)
    return answer_command("insurance", kCommands, req,
                          [this](const v1::Request& c) { return store_.apply(c); });
  v1::Reply reply;
  reply.set_request_id(req.request_id());
  reply.mutable_source()->set_registry("insurance");
  const std::int64_t now = now_ms_();
  reply.mutable_source()->set_as_of_unix_ms(now);

  const bool by_sin = req.subject_key() == "social_insurance_number";
  const auto found =
      by_sin ? store_.find_by_sin(req.subject()) : store_.find_by_citizen(req.subject());
  if (!found) {
    connectors::fail_store(reply, "insurance", found.error());
    return reply;
  }
  const auto& row = *found;
  if (row && by_sin) reply.add_subject_citizen_ids(row->citizen_id);
  if (req.operation() == v1::OPERATION_LOOKUP) {
    if (!row) {
      fail(reply, v1::STATUS_NOT_FOUND, "no insurance record for this subject");
      return reply;
    }
    set_record(reply, record_json(*row, req.fields()));
    return reply;
  }
  if (req.operation() != v1::OPERATION_VERIFY) {
    fail(reply, v1::STATUS_BAD_REQUEST, "operation not supported by the insurance registry");
    return reply;
  }
  auto* result = begin_verify(reply, row.has_value(), "valid_on_date");
  if (result == nullptr) return reply;
  const auto& claims = req.claims();
  const auto card = claims.find("health_insurance_card");
  const bool card_ok = card != claims.end() && card->second == row->health_insurance_card;
  grade(*result, "health_insurance_card", card_ok);
  const auto valid_on = claims.find("valid_on");
  const std::string on = valid_on != claims.end() ? valid_on->second : today(now);
  // ISO dates compare correctly as strings.
  const bool valid =
      card_ok && row->status == "active" && row->coverage_start <= on && on <= row->coverage_end;
  (*result->mutable_facts())["valid_on_date"] = valid;
  result->set_match(valid);
  return reply;
}

}  // namespace lgsp::registries::insurance
