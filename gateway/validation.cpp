#include "gateway/validation.hpp"

#include <boost/json.hpp>
#include <initializer_list>

#include "domain/catalog.hpp"
#include "domain/citizen_id.hpp"
#include "domain/dates.hpp"
#include "domain/names.hpp"

namespace lgsp::gateway {
namespace {

namespace json = boost::json;
using Errors = std::vector<http::FieldError>;

/// Parses the body as a JSON object or records why not.
std::optional<json::object> parse_object(std::string_view body, Errors& errors) {
  if (body.empty()) {
    errors.push_back({"body", "a JSON object is required"});
    return std::nullopt;
  }
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) {
    errors.push_back({"body", "not valid JSON: " + ec.message()});
    return std::nullopt;
  }
  if (!v.is_object()) {
    errors.push_back({"body", "must be a JSON object"});
    return std::nullopt;
  }
  return std::move(v.as_object());
}

void reject_unknown(const json::object& o, std::initializer_list<std::string_view> known,
                    Errors& errors) {
  for (const auto& kv : o) {
    bool ok = false;
    for (auto k : known) ok = ok || kv.key() == k;
    if (!ok) errors.push_back({std::string(kv.key()), "unknown field"});
  }
}

/// A string member, absent → nullopt. Checks type, UTF-8 and length.
std::optional<std::string> get_string(const json::object& o, std::string_view key, bool required,
                                      std::size_t max_len, Errors& errors) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (required) errors.push_back({std::string(key), "is required"});
    return std::nullopt;
  }
  if (!v->is_string()) {
    errors.push_back({std::string(key), "must be a string"});
    return std::nullopt;
  }
  const auto& s = v->get_string();
  if (s.empty() && required) {
    errors.push_back({std::string(key), "must not be empty"});
    return std::nullopt;
  }
  if (s.size() > max_len) {
    errors.push_back({std::string(key), "must be at most " + std::to_string(max_len) + " bytes"});
    return std::nullopt;
  }
  return std::string(s);
}

std::string get_citizen_id(const json::object& o, Errors& errors) {
  auto id = get_string(o, "citizen_id", true, 64, errors);
  if (!id) return {};
  const auto check = domain::check_citizen_id(*id);
  if (!check.info) {
    errors.push_back({"citizen_id", check.error + " (a 12-digit citizen ID)"});
    return {};
  }
  return *id;
}

Accountability get_accountability(const json::object& o, Errors& errors) {
  Accountability a;
  if (auto p = get_string(o, "purpose", true, 200, errors)) a.purpose = *p;
  if (auto b = get_string(o, "on_behalf_of", false, 128, errors)) a.on_behalf_of = *b;
  if (auto c = get_string(o, "procedure_code", false, 64, errors)) a.procedure_code = *c;
  return a;
}

}  // namespace

Parsed<VerifyInput> parse_population_verify(std::string_view body) {
  Errors errors;
  auto o = parse_object(body, errors);
  if (!o) return errors;
  reject_unknown(*o,
                 {"citizen_id", "full_name", "date_of_birth", "gender", "purpose", "on_behalf_of",
                  "procedure_code"},
                 errors);
  VerifyInput in;
  in.citizen_id = get_citizen_id(*o, errors);
  in.who = get_accountability(*o, errors);
  in.full_name = get_string(*o, "full_name", false, 200, errors);
  if (in.full_name) {
    const auto n = domain::normalize_name(*in.full_name);
    if (!n || n->empty()) {
      errors.push_back({"full_name", "must be a non-empty name in valid UTF-8"});
    }
  }
  in.date_of_birth = get_string(*o, "date_of_birth", false, 32, errors);
  if (in.date_of_birth && !domain::parse_iso_date(*in.date_of_birth)) {
    errors.push_back(
        {"date_of_birth", "must be an ISO 8601 calendar date, YYYY-MM-DD (e.g. 1999-05-01)"});
  }
  in.gender = get_string(*o, "gender", false, 16, errors);
  if (in.gender && !domain::parse_gender(*in.gender)) {
    errors.push_back({"gender", "must be \"male\" or \"female\""});
  }
  if (!o->contains("full_name") && !o->contains("date_of_birth") && !o->contains("gender")) {
    errors.push_back(
        {"full_name", "at least one of full_name, date_of_birth, gender is needed to verify"});
  }
  if (!errors.empty()) return errors;
  return in;
}

Parsed<LookupInput> parse_population_lookup(std::string_view body) {
  Errors errors;
  auto o = parse_object(body, errors);
  if (!o) return errors;
  reject_unknown(*o, {"citizen_id", "fields", "purpose", "on_behalf_of", "procedure_code"}, errors);
  LookupInput in;
  in.citizen_id = get_citizen_id(*o, errors);
  in.who = get_accountability(*o, errors);
  if (const auto* f = o->if_contains("fields"); f != nullptr && !f->is_null()) {
    const auto* population = domain::find_registry("population");
    if (!f->is_array() || f->as_array().empty()) {
      errors.push_back({"fields", "must be a non-empty array of field names"});
    } else {
      std::vector<std::string> names;
      for (const auto& v : f->as_array()) {
        if (!v.is_string() || !domain::has_field(*population, v.get_string())) {
          errors.push_back(
              {"fields", "unknown field " + json::serialize(v) +
                             " (known: full_name, date_of_birth, gender, "
                             "place_of_origin, permanent_address, id_card_issue_date)"});
          continue;
        }
        names.emplace_back(v.get_string());
      }
      in.fields = std::move(names);
    }
  }
  if (!errors.empty()) return errors;
  return in;
}

}  // namespace lgsp::gateway
