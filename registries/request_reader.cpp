#include "registries/request_reader.hpp"

#include <array>
#include <boost/json/serialize.hpp>

#include "domain/citizen_id.hpp"
#include "domain/dates.hpp"
#include "domain/identifiers.hpp"
#include "registries/table.hpp"

namespace lgsp::registries {
namespace {

constexpr std::array<std::string_view, 5> kCommon{"purpose", "on_behalf_of", "procedure_code",
                                                  "lawful_investigation", "consent_id"};

}  // namespace

bool RequestReader::has(std::string_view key) const {
  const auto* v = o_.if_contains(key);
  return v != nullptr && !v->is_null();
}

std::optional<std::string> RequestReader::str(std::string_view key, bool required,
                                              std::size_t max_len) {
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

void RequestReader::error(std::string_view field, std::string detail) {
  errors_.push_back({std::string(field), std::move(detail)});
}

void RequestReader::only(std::initializer_list<std::string_view> own) {
  for (const auto& kv : o_) {
    bool ok = false;
    for (auto k : own) ok = ok || kv.key() == k;
    for (auto k : kCommon) ok = ok || kv.key() == k;
    if (!ok) error(kv.key(), "unknown field");
  }
}

bool RequestReader::citizen_subject(bus::v1::Request& env, bool required, bool allow_legacy) {
  auto id = str("citizen_id", required, 64);
  if (!id) return false;
  if (allow_legacy && domain::is_legacy_id_number(*id)) {
    set_subject(env, "legacy_id_number", std::move(*id));
    return true;
  }
  const auto check = domain::check_citizen_id(*id);
  if (!check.info) {
    error(
        "citizen_id",
        check.error + (allow_legacy ? " (a 12-digit citizen ID, or a 9-digit identity card number)"
                                    : " (a 12-digit citizen ID)"));
    return false;
  }
  set_subject(env, "citizen_id", std::move(*id));
  return true;
}

std::optional<std::string> RequestReader::citizen_id(std::string_view key, bool required) {
  auto id = str(key, required, 64);
  if (!id) return std::nullopt;
  const auto check = domain::check_citizen_id(*id);
  if (!check.info) {
    error(key, check.error + " (a 12-digit citizen ID)");
    return std::nullopt;
  }
  return id;
}

std::optional<std::string> RequestReader::date_or_year(std::string_view key, bool required) {
  auto d = str(key, required, 32);
  if (!d) return std::nullopt;
  const bool year_only = d->size() == 4 && d->find_first_not_of("0123456789") == std::string::npos;
  if (year_only && !policy_.year_only_dates) {
    error(key,
          "must be a full ISO 8601 date, YYYY-MM-DD: this partner is not granted year-only "
          "dates (partner policy year_only_dates)");
    return std::nullopt;
  }
  if (!year_only && !domain::parse_iso_date(*d)) {
    error(key, policy_.year_only_dates
                   ? "must be an ISO 8601 calendar date, YYYY-MM-DD (e.g. 1999-05-01), or a "
                     "year, YYYY"
                   : "must be an ISO 8601 calendar date, YYYY-MM-DD (e.g. 1999-05-01)");
    return std::nullopt;
  }
  return d;
}

std::optional<std::string> RequestReader::boolean(std::string_view key, bool required) {
  const auto* v = raw(key);
  if (v == nullptr || v->is_null()) {
    if (required) error(key, "is required");
    return std::nullopt;
  }
  if (!v->is_bool()) {
    error(key, "must be true or false");
    return std::nullopt;
  }
  return std::string(v->get_bool() ? "true" : "false");
}

std::optional<std::vector<std::string>> RequestReader::fields(const Catalogue& catalogue) {
  const auto* f = raw("fields");
  if (f == nullptr || f->is_null()) return std::nullopt;
  if (!f->is_array() || f->as_array().empty()) {
    error("fields", "must be a non-empty array of field names");
    return std::nullopt;
  }
  std::vector<std::string> names;
  for (const auto& v : f->as_array()) {
    if (!v.is_string() || !has_field(catalogue, v.get_string())) {
      std::string known;
      for (auto k : catalogue.fields) known += (known.empty() ? "" : ", ") + std::string(k);
      error("fields", "unknown field " + boost::json::serialize(v) + " (known: " + known + ")");
      continue;
    }
    names.emplace_back(v.get_string());
  }
  return names;
}

bool RequestReader::exactly_one(std::string_view a, std::string_view b) {
  if (has(a) != has(b)) return true;
  error(a, "give exactly one of " + std::string(a) + ", " + std::string(b));
  return false;
}

}  // namespace lgsp::registries
