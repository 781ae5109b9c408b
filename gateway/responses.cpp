#include "gateway/responses.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "observability/log.hpp"

namespace lgsp::gateway {
namespace {

namespace json = boost::json;
namespace v1 = bus::v1;

json::object source(const v1::Reply& r) {
  return {{"registry", r.source().registry()}, {"as_of", format_utc(r.source().as_of_unix_ms())}};
}

/// True when `record` is an object whose members are all in `asked`.
bool only_asked(const json::value& record, const std::vector<std::string>& asked) {
  if (!record.is_object()) return false;
  for (const auto& kv : record.get_object()) {
    if (std::find(asked.begin(), asked.end(), kv.key()) == asked.end()) return false;
  }
  return true;
}

/// Every data member is a record, or a list of records, of asked fields only.
bool within(const json::object& members, const std::vector<std::string>& asked) {
  for (const auto& kv : members) {
    if (kv.value().is_array()) {
      for (const auto& item : kv.value().get_array()) {
        if (!only_asked(item, asked)) return false;
      }
    } else if (!only_asked(kv.value(), asked)) {
      return false;
    }
  }
  return true;
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

json::value time_or_null(std::int64_t unix_ms) {
  if (unix_ms <= 0) return nullptr;
  return json::value(format_utc(unix_ms));
}

std::optional<http::Problem> check_idempotency_key(std::string_view key) {
  if (key.size() <= 255 &&
      std::none_of(key.begin(), key.end(), [](unsigned char c) { return c < 0x21 || c > 0x7e; })) {
    return std::nullopt;
  }
  return http::validation_problem(
      {{"header:Idempotency-Key", "must be 1 to 255 visible ASCII characters"}});
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

std::optional<json::object> lookup_members(const v1::Reply& r,
                                           const std::vector<std::string>& asked) {
  boost::system::error_code ec;
  json::value v = json::parse(r.answer_json(), ec);
  if (ec || !v.is_object() || v.get_object().contains("source") || !within(v.get_object(), asked)) {
    obs::error("registry_answer_refused",
               {{"registry", r.source().registry()},
                {"reason", ec ? "not JSON" : "shape or fields beyond those asked"}});
    return std::nullopt;
  }
  json::object o = std::move(v.get_object());
  o["source"] = source(r);
  return o;
}

std::optional<std::string> lookup_body(const v1::Reply& r, const std::vector<std::string>& asked) {
  auto members = lookup_members(r, asked);
  if (!members) return std::nullopt;
  json::object o{{"request_id", r.request_id()}};
  for (auto& kv : *members) o[kv.key()] = std::move(kv.value());
  return json::serialize(o);
}

}  // namespace lgsp::gateway
