#include "gateway/responses.hpp"

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace lgsp::gateway {
namespace {

namespace json = boost::json;
namespace v1 = bus::v1;

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

json::object source(const v1::Reply& r) {
  return {{"registry", r.source().registry()}, {"as_of", format_utc(r.source().as_of_unix_ms())}};
}

}  // namespace

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
                 {"fields", std::move(fields)},
                 {"source", source(r)}};
  return json::serialize(o);
}

std::string lookup_body(const v1::Reply& r) {
  json::object rec;
  const auto& c = r.citizen();
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
  json::object o{{"request_id", r.request_id()}, {"record", std::move(rec)}, {"source", source(r)}};
  return json::serialize(o);
}

}  // namespace lgsp::gateway
