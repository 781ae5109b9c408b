// JSON request bodies into gateway::parse_request for every (registry, operation) the API
// routes, plus one it does not. Input: the body; each route sees the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "domain/citizen_id.hpp"
#include "domain/identifiers.hpp"
#include "gateway/validation.hpp"

namespace {

namespace gw = lgsp::gateway;

struct Route {
  std::string_view registry;
  std::string_view operation;
};
// gateway/api_handler.cpp kRoutes (private there), and one route that does not exist.
constexpr Route kRoutes[] = {
    {"population", "verify"}, {"population", "lookup"}, {"insurance", "verify"},
    {"insurance", "lookup"},  {"vehicle", "verify"},    {"vehicle", "lookup"},
    {"citizen", "profile"},   {"audit", "access-log"},  {"nope", "verify"},
};

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

/// What the connectors rely on in an accepted request.
void check_accepted(const Route& r, const gw::ParsedRequest& p) {
  const auto& env = p.envelope;
  check(env.registry() == r.registry, "envelope carries the route's registry");
  check(!env.purpose().empty(), "an accepted request states a purpose");
  const std::string& key = env.subject_key();
  const std::string& subject = env.subject();
  if (key == "citizen_id") {
    check(lgsp::domain::check_citizen_id(subject).info.has_value(),
          "subject citizen_id is a valid citizen ID");
  } else if (key == "plate_number") {
    const auto again = lgsp::domain::normalize_plate(subject);
    check(again && *again == subject, "subject plate is canonical");
  } else if (key == "social_insurance_number") {
    check(lgsp::domain::is_social_insurance_number(subject), "subject SIN is 10 digits");
  } else if (key == "legacy_id_number") {
    check(lgsp::domain::is_legacy_id_number(subject), "subject CMND is 9 digits");
  } else {
    check(false, "an accepted request names its subject by a known key");
  }
  if (p.fields) check(!p.fields->empty(), "fields, when given, are not empty");
  check(p.page_size >= 1 && p.page_size <= 100, "page size within 1-100");
  check(p.before_seq >= 0, "page token is not negative");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (const auto& r : kRoutes) {
    const auto parsed = gw::parse_request(r.registry, r.operation, body);
    if (const auto* errors = std::get_if<std::vector<lgsp::http::FieldError>>(&parsed)) {
      check(!errors->empty(), "a refused request lists at least one error");
      // The field may be "": a partner can send that member name, and is told it is unknown.
      for (const auto& e : *errors) check(!e.detail.empty(), "every error says why");
    } else {
      check(r.registry != "nope", "an unknown route is refused");
      check_accepted(r, std::get<gw::ParsedRequest>(parsed));
    }
  }
  return 0;
}
