#include "gateway/validation.hpp"

#include <boost/json.hpp>
#include <charconv>

#include "consents/rules.hpp"
#include "domain/dates.hpp"
#include "registries/request_reader.hpp"
#include "registries/table.hpp"

namespace lgsp::gateway {

namespace {

namespace json = boost::json;
namespace v1 = bus::v1;
using Errors = std::vector<http::FieldError>;
using registries::RequestReader;

void accountability(RequestReader& b, ParsedRequest& out) {
  v1::Request& env = out.envelope;
  if (auto p = b.str("purpose", true, 200)) env.set_purpose(*p);
  if (auto o = b.str("on_behalf_of", false, 128)) env.set_on_behalf_of(*o);
  if (auto c = b.str("procedure_code", false, 64)) env.set_procedure_code(*c);
  if (auto l = b.str("lawful_investigation", false, 128)) {
    if (l->empty()) {
      b.error("lawful_investigation", "must be the investigation's case or decision reference");
    } else {
      out.lawful_investigation = std::move(*l);
    }
  }
  if (auto c = b.str("consent_id", false, 64)) {
    if (!consents::well_formed_id(*c)) {
      b.error("consent_id",
              "must be a consent id as the citizen app gave it (cs- and 32 hex "
              "digits)");
    } else {
      out.consent_id = std::move(*c);
    }
  }
}

/// consent.grant: {"citizen_id", "consent": {"partner_id", "purpose", "scope", "expires_on"}}.
void consent_grant(RequestReader& b, ParsedRequest& out) {
  b.only({"citizen_id", "consent"});
  if (auto id = b.citizen_id("citizen_id", true))
    registries::set_subject(out.envelope, "citizen_id", std::move(*id));
  const auto* c = b.raw("consent");
  if (c == nullptr || !c->is_object()) {
    b.error("consent", "required: an object with partner_id, purpose, scope and expires_on");
    return;
  }
  std::vector<http::FieldError> inner;
  RequestReader g(c->as_object(), inner, {});
  for (const auto& kv : c->as_object()) {
    const std::string_view k = kv.key();
    if (k != "partner_id" && k != "purpose" && k != "scope" && k != "expires_on")
      g.error(k, "unknown member (partner_id, purpose, scope, expires_on)");
  }
  auto& grant = out.grant;
  if (auto p = g.str("partner_id", true, 64)) grant.partner_id = std::move(*p);
  if (auto p = g.str("purpose", true, 200)) grant.purpose = std::move(*p);
  if (auto d = g.str("expires_on", true, 10)) {
    if (!domain::parse_iso_date(*d)) {
      g.error("expires_on", "must be a date, YYYY-MM-DD: the last day the consent covers");
    } else {
      grant.expires_on = std::move(*d);
    }
  }
  const auto* s = g.raw("scope");
  if (s == nullptr || !s->is_array()) {
    g.error("scope",
            "required: an array of registries or registry fields, e.g. [\"population\"] "
            "or [\"population.full_name\"]");
  } else {
    for (const auto& e : s->as_array()) {
      if (!e.is_string() || e.as_string().empty() || e.as_string().size() > 100) {
        g.error("scope", "each entry is a registry or registry field name");
        continue;
      }
      grant.scope.emplace_back(e.as_string());
    }
    for (auto& why : consents::scope_problems(grant.scope)) g.error("scope", std::move(why));
  }
  for (auto& e : inner) b.error("consent." + e.field, e.detail);
}

void consent_revoke(RequestReader& b, ParsedRequest& out) {
  b.only({"citizen_id"});  // and consent_id, a common member
  if (auto id = b.citizen_id("citizen_id", true))
    registries::set_subject(out.envelope, "citizen_id", std::move(*id));
  const auto* id = b.raw("consent_id");
  if (id == nullptr || id->is_null()) b.error("consent_id", "required: the consent to revoke");
}

void consent_list(RequestReader& b, ParsedRequest& out) {
  b.only({"citizen_id"});
  if (auto id = b.citizen_id("citizen_id", true))
    registries::set_subject(out.envelope, "citizen_id", std::move(*id));
}

void citizen_profile(RequestReader& b, ParsedRequest& out) {
  b.only({"citizen_id", "registries"});
  b.citizen_subject(out.envelope, true, false);
  const auto* r = b.raw("registries");
  if (r == nullptr || r->is_null()) return;
  if (!r->is_array() || r->as_array().empty()) {
    b.error("registries", "must be a non-empty array of registry names");
    return;
  }
  for (const auto& v : r->as_array()) {
    if (!v.is_string() || registries::find(v.get_string()) == nullptr) {
      b.error("registries", "unknown registry " + json::serialize(v) +
                                " (known: " + registries::known_names() + ")");
      continue;
    }
    out.registries.emplace_back(v.get_string());
  }
}

void access_log(RequestReader& b, ParsedRequest& out) {
  b.only({"citizen_id", "page_size", "page_token"});
  if (auto id = b.citizen_id("citizen_id", true))
    registries::set_subject(out.envelope, "citizen_id", std::move(*id));
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
                                    std::string_view body, registries::ReaderPolicy policy) {
  if (body.empty()) return Errors{{"body", "a JSON object is required"}};
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return Errors{{"body", "not valid JSON: " + ec.message()}};
  if (!v.is_object()) return Errors{{"body", "must be a JSON object"}};
  return parse_request(registry, operation, v.as_object(), policy);
}

Parsed<ParsedRequest> parse_request(std::string_view registry, std::string_view operation,
                                    const json::object& o, registries::ReaderPolicy policy) {
  Errors errors;
  RequestReader b(o, errors, policy);

  ParsedRequest out;
  out.envelope.set_registry(std::string(registry));
  out.envelope.set_operation(operation == "verify" ? v1::OPERATION_VERIFY : v1::OPERATION_LOOKUP);
  accountability(b, out);

  const registries::Module* module = registries::find(registry);
  if (module != nullptr && (operation == "verify" || operation == "lookup") &&
      registries::has_operation(module->catalogue(), operation)) {
    registries::Query query{out.envelope, std::nullopt};
    module->parse(operation, b, query);
    out.fields = std::move(query.fields);
  } else if (registry == "citizen" && operation == "profile") {
    citizen_profile(b, out);
  } else if (registry == "audit" && operation == "access-log") {
    access_log(b, out);
    // The citizen's own reads are the citizen's to see.
    if (!out.lawful_investigation.empty())
      b.error("lawful_investigation", "not accepted when reading an access log");
    if (!out.consent_id.empty()) b.error("consent_id", "not accepted when reading an access log");
  } else if (registry == "consent" &&
             (operation == "grant" || operation == "revoke" || operation == "list")) {
    if (operation == "grant") consent_grant(b, out);
    if (operation == "revoke") consent_revoke(b, out);
    if (operation == "list") consent_list(b, out);
    // A citizen's own records: never withheld from the citizen.
    if (!out.lawful_investigation.empty())
      b.error("lawful_investigation", "not accepted on a citizen's consents");
    if (operation != "revoke" && !out.consent_id.empty())
      b.error("consent_id", "only when revoking a consent");
  } else {
    errors.push_back(
        {"body", "no such operation " + std::string(registry) + "." + std::string(operation)});
  }
  if (!errors.empty()) return errors;
  return out;
}

}  // namespace lgsp::gateway
