#include "gateway/validation.hpp"

#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <initializer_list>

#include "domain/catalog.hpp"
#include "domain/citizen_id.hpp"
#include "domain/dates.hpp"
#include "domain/identifiers.hpp"
#include "domain/names.hpp"

namespace lgsp::gateway {

bool is_json_media_type(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  constexpr std::string_view kJson = "application/json";
  if (type.size() != kJson.size()) return false;
  for (std::size_t i = 0; i < kJson.size(); ++i) {
    const char c = type[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != kJson[i]) return false;
  }
  return true;
}
namespace {

namespace json = boost::json;
namespace v1 = bus::v1;
using Errors = std::vector<http::FieldError>;

/// Walks one JSON object, collecting every error.
class Body {
 public:
  Body(const json::object& o, Errors& errors) : o_(o), errors_(errors) {}

  bool has(std::string_view key) const {
    const auto* v = o_.if_contains(key);
    return v != nullptr && !v->is_null();
  }

  /// A string member; absent → nullopt (and an error when required).
  std::optional<std::string> str(std::string_view key, bool required, std::size_t max_len) {
    const auto* v = o_.if_contains(key);
    if (v == nullptr || v->is_null()) {
      if (required) error(key, "is required");
      return std::nullopt;
    }
    if (!v->is_string()) {
      error(key, "must be a string");
      return std::nullopt;
    }
    const auto& s = v->get_string();
    if (s.empty()) {
      error(key, "must not be empty");
      return std::nullopt;
    }
    if (s.size() > max_len) {
      error(key, "must be at most " + std::to_string(max_len) + " bytes");
      return std::nullopt;
    }
    return std::string(s);
  }

  const json::value* raw(std::string_view key) const { return o_.if_contains(key); }
  void error(std::string_view field, std::string detail) {
    errors_.push_back({std::string(field), std::move(detail)});
  }

 private:
  const json::object& o_;
  Errors& errors_;
};

void citizen_id(Body& b, v1::Request& env, bool required, bool allow_legacy) {
  auto id = b.str("citizen_id", required, 64);
  if (!id) return;
  if (allow_legacy && domain::is_legacy_id_number(*id)) {
    env.set_legacy_id_number(*id);
    return;
  }
  const auto check = domain::check_citizen_id(*id);
  if (!check.info) {
    b.error(
        "citizen_id",
        check.error + (allow_legacy ? " (a 12-digit citizen ID, or a 9-digit identity card number)"
                                    : " (a 12-digit citizen ID)"));
    return;
  }
  env.set_citizen_id(*id);
}

/// 12-digit citizen ID only, for fields that are claims rather than the subject.
std::optional<std::string> claimed_citizen_id(Body& b, std::string_view key, bool required) {
  auto id = b.str(key, required, 64);
  if (!id) return std::nullopt;
  const auto check = domain::check_citizen_id(*id);
  if (!check.info) {
    b.error(key, check.error + " (a 12-digit citizen ID)");
    return std::nullopt;
  }
  return id;
}

void accountability(Body& b, v1::Request& env) {
  if (auto p = b.str("purpose", true, 200)) env.set_purpose(*p);
  if (auto o = b.str("on_behalf_of", false, 128)) env.set_on_behalf_of(*o);
  if (auto c = b.str("procedure_code", false, 64)) env.set_procedure_code(*c);
}

std::optional<std::vector<std::string>> fields(Body& b, std::string_view registry) {
  const auto* f = b.raw("fields");
  if (f == nullptr || f->is_null()) return std::nullopt;
  const auto* reg = domain::find_registry(registry);
  if (!f->is_array() || f->as_array().empty()) {
    b.error("fields", "must be a non-empty array of field names");
    return std::nullopt;
  }
  std::vector<std::string> names;
  for (const auto& v : f->as_array()) {
    if (!v.is_string() || !domain::has_field(*reg, v.get_string())) {
      std::string known;
      for (auto k : reg->fields) known += (known.empty() ? "" : ", ") + std::string(k);
      b.error("fields", "unknown field " + json::serialize(v) + " (known: " + known + ")");
      continue;
    }
    names.emplace_back(v.get_string());
  }
  return names;
}

constexpr std::array<std::string_view, 3> kCommon{"purpose", "on_behalf_of", "procedure_code"};

/// Refuses members that are neither the route's own nor the common ones.
void only_with_common(std::initializer_list<std::string_view> own, Errors& errors,
                      const json::object& o) {
  for (const auto& kv : o) {
    bool ok = false;
    for (auto k : own) ok = ok || kv.key() == k;
    for (auto k : kCommon) ok = ok || kv.key() == k;
    if (!ok) errors.push_back({std::string(kv.key()), "unknown field"});
  }
}

void population_verify(Body& b, ParsedRequest& out) {
  auto& env = out.envelope;
  citizen_id(b, env, true, true);
  auto* claims = env.mutable_claims();
  if (auto name = b.str("full_name", false, 200)) {
    const auto n = domain::normalize_name(*name);
    if (!n || n->empty()) b.error("full_name", "must be a non-empty name in valid UTF-8");
    claims->set_full_name(*name);
  }
  if (auto dob = b.str("date_of_birth", false, 32)) {
    const bool year_only =
        dob->size() == 4 && dob->find_first_not_of("0123456789") == std::string::npos;
    if (!year_only && !domain::parse_iso_date(*dob)) {
      b.error("date_of_birth",
              "must be an ISO 8601 calendar date, YYYY-MM-DD (e.g. 1999-05-01), or a year, YYYY");
    }
    claims->set_date_of_birth(*dob);
  }
  if (auto g = b.str("gender", false, 16)) {
    // Registry values, and the Vietnamese words partners' forms often carry.
    if (*g == "male" || *g == "nam" || *g == "Nam") {
      claims->set_gender("male");
    } else if (*g == "female" || *g == "nữ" || *g == "Nữ" || *g == "nu") {
      claims->set_gender("female");
    } else {
      b.error("gender", "must be \"male\" or \"female\" (\"nam\"/\"nữ\" also accepted)");
    }
  }
  if (!b.has("full_name") && !b.has("date_of_birth") && !b.has("gender")) {
    b.error("full_name", "at least one of full_name, date_of_birth, gender is needed to verify");
  }
}

void insurance_verify(Body& b, ParsedRequest& out) {
  auto& env = out.envelope;
  citizen_id(b, env, true, false);
  if (auto card = b.str("health_insurance_card", true, 32)) {
    if (auto norm = domain::normalize_health_card(*card)) {
      env.mutable_claims()->set_health_insurance_card(*norm);
    } else {
      b.error("health_insurance_card",
              "must be the 15-character card code: 2 letters, benefit level 1-5, 2-digit province, "
              "10-digit social insurance number (e.g. DN4010123456789)");
    }
  }
  if (auto on = b.str("valid_on", false, 32)) {
    if (!domain::parse_iso_date(*on))
      b.error("valid_on", "must be an ISO 8601 calendar date, YYYY-MM-DD");
    env.mutable_claims()->set_valid_on(*on);
  }
}

void insurance_lookup(Body& b, ParsedRequest& out) {
  auto& env = out.envelope;
  if (b.has("citizen_id") == b.has("social_insurance_number")) {
    b.error("citizen_id", "give exactly one of citizen_id, social_insurance_number");
  } else if (b.has("citizen_id")) {
    citizen_id(b, env, true, false);
  } else if (auto sin = b.str("social_insurance_number", true, 32)) {
    if (!domain::is_social_insurance_number(*sin)) {
      b.error("social_insurance_number", "must be exactly 10 digits");
    } else {
      env.set_social_insurance_number(*sin);
    }
  }
  out.fields = fields(b, "insurance");
}

bool plate(Body& b, v1::Request& env, bool required) {
  auto p = b.str("plate_number", required, 32);
  if (!p) return false;
  if (auto norm = domain::normalize_plate(*p)) {
    env.set_plate_number(*norm);
    return true;
  }
  b.error("plate_number", "must be a Vietnamese plate such as 29A-123.45 (29A12345 is accepted)");
  return false;
}

void vehicle_lookup(Body& b, ParsedRequest& out) {
  auto& env = out.envelope;
  if (b.has("plate_number") == b.has("citizen_id")) {
    b.error("plate_number", "give exactly one of plate_number, citizen_id");
  } else if (b.has("plate_number")) {
    plate(b, env, true);
  } else {
    citizen_id(b, env, true, false);
  }
  out.fields = fields(b, "vehicle");
}

void vehicle_verify(Body& b, ParsedRequest& out) {
  auto& env = out.envelope;
  plate(b, env, true);
  if (auto owner = claimed_citizen_id(b, "citizen_id", true))
    env.mutable_claims()->set_owner_citizen_id(*owner);
}

void citizen_profile(Body& b, ParsedRequest& out) {
  citizen_id(b, out.envelope, true, false);
  const auto* r = b.raw("registries");
  if (r == nullptr || r->is_null()) return;
  if (!r->is_array() || r->as_array().empty()) {
    b.error("registries", "must be a non-empty array of registry names");
    return;
  }
  for (const auto& v : r->as_array()) {
    if (!v.is_string() || !domain::is_registry(v.get_string())) {
      b.error("registries", "unknown registry " + json::serialize(v) +
                                " (known: population, insurance, vehicle)");
      continue;
    }
    out.registries.emplace_back(v.get_string());
  }
}

void access_log(Body& b, ParsedRequest& out) {
  if (auto id = claimed_citizen_id(b, "citizen_id", true)) out.envelope.set_citizen_id(*id);
  if (const auto* n = b.raw("page_size"); n != nullptr && !n->is_null()) {
    if (!n->is_int64() || n->as_int64() < 1 || n->as_int64() > 100) {
      b.error("page_size", "must be an integer from 1 to 100");
    } else {
      out.page_size = n->as_int64();
    }
  }
  if (auto token = b.str("page_token", false, 20)) {
    std::int64_t seq = 0;
    const auto [p, ec] = std::from_chars(token->data(), token->data() + token->size(), seq);
    if (ec != std::errc{} || p != token->data() + token->size() || seq < 1) {
      b.error("page_token", "must be the next_page_token of a previous answer");
    } else {
      out.before_seq = seq;
    }
  }
}

}  // namespace

Parsed<ParsedRequest> parse_request(std::string_view registry, std::string_view operation,
                                    std::string_view body) {
  if (body.empty()) return Errors{{"body", "a JSON object is required"}};
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return Errors{{"body", "not valid JSON: " + ec.message()}};
  if (!v.is_object()) return Errors{{"body", "must be a JSON object"}};
  return parse_request(registry, operation, v.as_object());
}

Parsed<ParsedRequest> parse_request(std::string_view registry, std::string_view operation,
                                    const json::object& o) {
  Errors errors;
  Body b(o, errors);

  ParsedRequest out;
  out.envelope.set_registry(std::string(registry));
  out.envelope.set_operation(operation == "verify" ? v1::OPERATION_VERIFY : v1::OPERATION_LOOKUP);
  accountability(b, out.envelope);

  const std::string route = std::string(registry) + "." + std::string(operation);
  if (route == "population.verify") {
    only_with_common({"citizen_id", "full_name", "date_of_birth", "gender"}, errors, o);
    population_verify(b, out);
  } else if (route == "population.lookup") {
    only_with_common({"citizen_id", "fields"}, errors, o);
    citizen_id(b, out.envelope, true, true);
    out.fields = fields(b, "population");
  } else if (route == "insurance.verify") {
    only_with_common({"citizen_id", "health_insurance_card", "valid_on"}, errors, o);
    insurance_verify(b, out);
  } else if (route == "insurance.lookup") {
    only_with_common({"citizen_id", "social_insurance_number", "fields"}, errors, o);
    insurance_lookup(b, out);
  } else if (route == "vehicle.verify") {
    only_with_common({"plate_number", "citizen_id"}, errors, o);
    vehicle_verify(b, out);
  } else if (route == "vehicle.lookup") {
    only_with_common({"plate_number", "citizen_id", "fields"}, errors, o);
    vehicle_lookup(b, out);
  } else if (route == "citizen.profile") {
    only_with_common({"citizen_id", "registries"}, errors, o);
    citizen_profile(b, out);
  } else if (route == "audit.access-log") {
    only_with_common({"citizen_id", "page_size", "page_token"}, errors, o);
    access_log(b, out);
  } else {
    errors.push_back({"body", "no such operation " + route});
  }
  if (!errors.empty()) return errors;
  return out;
}

}  // namespace lgsp::gateway
