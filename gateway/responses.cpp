#include "gateway/responses.hpp"

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace lgsp::gateway {
namespace {

namespace json = boost::json;
namespace v1 = bus::v1;

json::object source(const v1::Reply& r) {
  return {{"registry", r.source().registry()}, {"as_of", format_utc(r.source().as_of_unix_ms())}};
}

json::object citizen_json(const v1::CitizenRecord& c) {
  json::object rec;
  if (c.has_full_name()) rec["full_name"] = c.full_name();
  if (c.has_date_of_birth()) rec["date_of_birth"] = c.date_of_birth();
  if (c.has_gender()) rec["gender"] = c.gender();
  if (c.has_place_of_origin()) rec["place_of_origin"] = c.place_of_origin();
  if (c.has_permanent_address()) {
    rec["permanent_address"] = json::object{{"province", c.permanent_address().province()},
                                            {"district", c.permanent_address().district()},
                                            {"commune", c.permanent_address().commune()}};
  }
  if (c.has_id_card_issue_date()) rec["id_card_issue_date"] = c.id_card_issue_date();
  return rec;
}

json::object insurance_json(const v1::InsuranceRecord& i) {
  json::object rec;
  if (i.has_social_insurance_number()) rec["social_insurance_number"] = i.social_insurance_number();
  if (i.has_health_insurance_card()) rec["health_insurance_card"] = i.health_insurance_card();
  if (i.has_citizen_id()) rec["citizen_id"] = i.citizen_id();
  if (i.has_status()) rec["status"] = i.status();
  if (i.has_coverage_start()) rec["coverage_start"] = i.coverage_start();
  if (i.has_coverage_end()) rec["coverage_end"] = i.coverage_end();
  if (i.has_registered_hospital()) {
    rec["registered_hospital"] =
        json::object{{"province", i.registered_hospital().province()},
                     {"facility_code", i.registered_hospital().facility_code()}};
  }
  if (i.has_benefit_level()) rec["benefit_level"] = i.benefit_level();
  return rec;
}

json::object vehicle_json(const v1::VehicleRecord& v) {
  json::object rec;
  if (v.has_plate_number()) rec["plate_number"] = v.plate_number();
  if (v.has_owner_citizen_id()) rec["owner_citizen_id"] = v.owner_citizen_id();
  if (v.has_vehicle_type()) rec["vehicle_type"] = v.vehicle_type();
  if (v.has_brand()) rec["brand"] = v.brand();
  if (v.has_model()) rec["model"] = v.model();
  if (v.has_colour()) rec["colour"] = v.colour();
  if (v.has_engine_number()) rec["engine_number"] = v.engine_number();
  if (v.has_chassis_number()) rec["chassis_number"] = v.chassis_number();
  if (v.has_registration_date()) rec["registration_date"] = v.registration_date();
  if (v.has_status()) rec["status"] = v.status();
  return rec;
}

}  // namespace

std::string_view grade_name(v1::Grade g) {
  switch (g) {
    case v1::GRADE_EXACT:
      return "exact";
    case v1::GRADE_PARTIAL:
      return "partial";
    default:
      return "mismatch";
  }
}

std::string format_utc(std::int64_t unix_ms) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buf;
}

std::string verify_body(const v1::Reply& r) {
  json::object fields;
  for (const auto& f : r.verify().fields()) fields[f.field()] = grade_name(f.grade());
  json::object o{{"request_id", r.request_id()},
                 {"match", r.verify().match()},
                 {"subject_found", r.verify().subject_found()},
                 {"fields", std::move(fields)}};
  for (const auto& [name, value] : r.verify().facts()) o[name] = value;
  o["source"] = source(r);
  return json::serialize(o);
}

json::object lookup_members(const v1::Reply& r) {
  json::object o;
  switch (r.record_case()) {
    case v1::Reply::kCitizen:
      o["record"] = citizen_json(r.citizen());
      break;
    case v1::Reply::kInsurance:
      o["record"] = insurance_json(r.insurance());
      break;
    case v1::Reply::kVehicles: {
      json::array list;
      for (const auto& v : r.vehicles().vehicles()) list.push_back(vehicle_json(v));
      o["vehicles"] = std::move(list);
      break;
    }
    default:
      o["record"] = json::object{};
  }
  o["source"] = source(r);
  return o;
}

std::string lookup_body(const v1::Reply& r) {
  json::object o{{"request_id", r.request_id()}};
  for (auto& kv : lookup_members(r)) o[kv.key()] = kv.value();
  return json::serialize(o);
}

}  // namespace lgsp::gateway
