#include "procedures/api.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "gateway/responses.hpp"
#include "registries/commands.hpp"
#include "registries/table.hpp"
#include "util/clock.hpp"
#include "util/hashing.hpp"
#include "util/media_type.hpp"
#include "util/on_pool.hpp"
#include "util/random.hpp"

namespace lgsp::procedures {

namespace json = boost::json;
namespace bhttp = boost::beast::http;
using http::Problem;
using http::Status;

namespace {

constexpr std::string_view kPrefix = "/v1/procedures/";
constexpr std::string_view kIdPrefix = "prc-";
constexpr std::size_t kIdHexDigits = 32;

std::string new_procedure_id() {
  const std::string bytes = util::random_string(kIdHexDigits / 2);
  return std::string(kIdPrefix) +
         util::to_hex(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

/// An id as this API makes them; anything else is answered 404 without a store lookup.
bool plausible_id(std::string_view id) {
  if (id.size() != kIdPrefix.size() + kIdHexDigits || !id.starts_with(kIdPrefix)) return false;
  return std::all_of(id.begin() + static_cast<std::ptrdiff_t>(kIdPrefix.size()), id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string_view path_of(const http::Request& req) {
  std::string_view t = req.target();
  return t.substr(0, t.find('?'));
}

Problem not_found() {
  return http::problem(Status::not_found, "procedure-not-found", "No such procedure",
                       "no procedure with this id for this partner");
}

/// The submission's members, checked; input members normalised as their commands want them.
struct Submission {
  std::string purpose;
  std::string on_behalf_of;
  std::string procedure_code;
  json::object input;
  std::vector<std::string> citizen_ids;  // input members that are citizen IDs
};

/// A string member of 1 to `max` bytes (the same bounds as on every other operation).
std::optional<std::string> text_member(const json::object& body, std::string_view key,
                                       bool required, std::size_t max,
                                       std::vector<http::FieldError>& errors) {
  const auto* v = body.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (required) errors.push_back({std::string(key), "required"});
    return std::nullopt;
  }
  if (!v->is_string() || v->as_string().empty() || v->as_string().size() > max) {
    errors.push_back({std::string(key), "must be a string of 1-" + std::to_string(max) + " bytes"});
    return std::nullopt;
  }
  return std::string(v->as_string());
}

void read_input(const json::value* given, const config::ProcedureDefinition& def, Submission& s,
                std::vector<http::FieldError>& errors) {
  if (given == nullptr || !given->is_object()) {
    errors.push_back({"input", "required: an object of the procedure's input members"});
    return;
  }
  const auto& in = given->as_object();
  for (const auto& [member, kind] : def.input) {
    const std::string field = "input." + member;
    const auto* v = in.if_contains(member);
    if (v == nullptr || v->is_null()) {
      errors.push_back({field, "required (a " + std::string(registries::kind_name(kind)) + ")"});
      continue;
    }
    if (!v->is_string()) {
      errors.push_back({field, "must be a string"});
      continue;
    }
    std::string value(v->as_string());
    if (auto problem = registries::check_arg(kind, value); !problem.empty()) {
      errors.push_back({field, std::move(problem)});
      continue;
    }
    if (kind == registries::ArgKind::kCitizenId) s.citizen_ids.push_back(value);
    s.input[member] = value;
  }
  for (const auto& kv : in) {
    if (!def.input.contains(std::string(kv.key())))
      errors.push_back({"input." + std::string(kv.key()), "not an input of this procedure"});
  }
}

std::variant<Submission, std::vector<http::FieldError>> read_submission(
    std::string_view body, const config::ProcedureDefinition& def) {
  std::vector<http::FieldError> errors;
  boost::system::error_code ec;
  const auto v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    errors.push_back({"body", "must be a JSON object"});
    return errors;
  }
  const auto& o = v.as_object();
  Submission s;
  for (const auto& kv : o) {
    const std::string_view k = kv.key();
    if (k != "purpose" && k != "on_behalf_of" && k != "procedure_code" && k != "input")
      errors.push_back({std::string(k), "unknown member"});
  }
  s.purpose = text_member(o, "purpose", true, 128, errors).value_or("");
  s.on_behalf_of = text_member(o, "on_behalf_of", false, 128, errors).value_or("");
  s.procedure_code = text_member(o, "procedure_code", false, 64, errors).value_or("");
  read_input(o.if_contains("input"), def, s, errors);
  if (!errors.empty()) return errors;
  return s;
}

/// What a retried submission must repeat for its Idempotency-Key to mean the same procedure.
std::string fingerprint(std::string_view name, const Submission& s) {
  return util::sha256_hex(std::string(name) + '\n' + s.purpose + '\n' + s.on_behalf_of + '\n' +
                          s.procedure_code + '\n' + json::serialize(s.input));
}

http::Response procedure_response(Status status, const Procedure& p,
                                  const config::ProcedureDefinition* def,
                                  const std::string& request_id, unsigned version,
                                  bool keep_alive) {
  auto res = http::make_json_response(status, procedure_json(p, def, request_id), request_id,
                                      version, keep_alive);
  res.set(bhttp::field::location, std::string(kPrefix) + p.id);
  return res;
}

/// The first reason to refuse a start, in the pipeline's order: authorisation, media type,
/// Idempotency-Key, rate limit and quota (a request the gateway cannot read spends none),
/// validation, purpose.
std::optional<Problem> refusal_of(const http::Request& req, const config::ProcedureDefinition& def,
                                  const gateway::Partner& partner, const std::string& key,
                                  std::variant<Submission, std::vector<http::FieldError>>& body,
                                  gateway::Admission& admission,
                                  gateway::RateLimiter::Decision& decision) {
  if (auto refused = admission.authorise(partner, "procedure", def.name)) return refused;
  if (!util::is_json(util::media_type(req[bhttp::field::content_type]))) {
    return http::problem(Status::unsupported_media_type, "unsupported-media-type",
                         "Unsupported media type",
                         "send the body as Content-Type: application/json");
  }
  if (auto bad_key = gateway::check_idempotency_key(key)) return bad_key;
  if (auto limited = admission.limit(partner, "procedure", def.name, decision)) return limited;
  if (auto* errors = std::get_if<std::vector<http::FieldError>>(&body))
    return http::validation_problem(std::move(*errors));
  return admission.purpose(partner, std::get<Submission>(body).purpose);
}

}  // namespace

std::string procedure_json(const Procedure& p, const config::ProcedureDefinition* def,
                           const std::string& request_id) {
  json::array steps;
  for (std::size_t i = 0; i < p.steps.size(); ++i) {
    const auto& st = p.steps[i];
    json::object o{{"name", st.name},
                   {"state", to_string(st.state)},
                   {"attempts", st.attempts},
                   {"updated_at", gateway::time_or_null(st.updated_ms)}};
    if (def != nullptr && i < def->steps.size()) {
      o["registry"] = def->steps[i].registry;
      o["command"] = def->steps[i].command;
    }
    boost::system::error_code ec;
    if (auto r = json::parse(st.result, ec); !ec && r.is_object()) o["result"] = std::move(r);
    if (!st.detail.empty()) o["detail"] = st.detail;
    steps.push_back(std::move(o));
  }
  json::object out{{"request_id", request_id},
                   {"id", p.id},
                   {"name", p.name},
                   {"state", to_string(p.state)},
                   {"purpose", p.purpose},
                   {"created_at", gateway::time_or_null(p.created_ms)},
                   {"updated_at", gateway::time_or_null(p.updated_ms)},
                   {"finished_at", gateway::time_or_null(p.finished_ms)},
                   {"steps", std::move(steps)}};
  if (!p.procedure_code.empty()) out["procedure_code"] = p.procedure_code;
  if (!p.error.empty()) out["error"] = p.error;
  return json::serialize(out);
}

ProcedureApi::ProcedureApi(const config::ProceduresConfig& procedures, ProcedureStore& store,
                           ProcedureEngine& engine)
    : procedures_(procedures), store_(store), engine_(engine) {}

bool ProcedureApi::matches(std::string_view target) {
  return target.starts_with(kPrefix) || target == "/v1/procedures";
}

std::pair<std::string_view, std::string_view> ProcedureApi::classify(
    const http::Request& req) const {
  const auto path = path_of(req);
  if (!path.starts_with(kPrefix)) return {"other", "other"};
  const auto rest = path.substr(kPrefix.size());
  // The procedure's own name as the operation (its storage lives as long as this API), so
  // the audit trail says "procedure.birth-registration".
  if (const auto it = procedures_.definitions.find(rest);
      req.method() == bhttp::verb::post && it != procedures_.definitions.end())
    return {"/v1/procedures/{name}", it->first};
  if (req.method() == bhttp::verb::get && plausible_id(rest))
    return {"/v1/procedures/{id}", "status"};
  return {"other", "other"};
}

boost::asio::awaitable<ProcedureCall> ProcedureApi::handle(const http::Request& req,
                                                           const gateway::Partner& partner,
                                                           const std::string& request_id,
                                                           gateway::Admission& admission) {
  const auto path = path_of(req);
  const auto rest = path.starts_with(kPrefix) ? path.substr(kPrefix.size()) : std::string_view{};
  if (req.method() == bhttp::verb::get) co_return co_await status(req, rest, partner, request_id);
  ProcedureCall call;
  if (req.method() != bhttp::verb::post) {
    call.res = http::make_problem_response(
        http::problem(Status::method_not_allowed, "method-not-allowed", "Method not allowed",
                      "POST /v1/procedures/{name} starts one; GET /v1/procedures/{id} reads it"),
        request_id, req.version(), req.keep_alive());
    call.res.set(bhttp::field::allow, plausible_id(rest) ? "GET" : "POST");
    co_return call;
  }
  const auto it = procedures_.definitions.find(rest);
  if (it == procedures_.definitions.end()) {
    call.res = http::make_problem_response(
        http::problem(Status::not_found, "procedure-unknown", "No such procedure",
                      "no procedure of this name is configured; docs/api.md lists the "
                      "procedures and the configuration defines them"),
        request_id, req.version(), req.keep_alive());
    co_return call;
  }
  co_return co_await start(req, it->second, partner, request_id, admission);
}

boost::asio::awaitable<ProcedureCall> ProcedureApi::start(const http::Request& req,
                                                          const config::ProcedureDefinition& def,
                                                          const gateway::Partner& partner,
                                                          const std::string& request_id,
                                                          gateway::Admission& admission) {
  ProcedureCall call;
  call.procedure_code = def.name;
  const auto refuse = [&](const Problem& p) {
    call.res = http::make_problem_response(p, request_id, req.version(), req.keep_alive());
  };
  auto body = read_submission(req.body(), def);
  if (const auto* s = std::get_if<Submission>(&body)) {
    call.subjects = s->citizen_ids;
    call.purpose = s->purpose;
    call.on_behalf_of = s->on_behalf_of;
    if (!s->procedure_code.empty()) call.procedure_code = s->procedure_code;
  }
  gateway::RateLimiter::Decision decision;
  const std::string key(req["Idempotency-Key"]);
  if (auto refusal = refusal_of(req, def, partner, key, body, admission, decision)) {
    refuse(*refusal);
    gateway::Admission::decorate(call.res, &decision);
    co_return call;
  }
  const auto& s = std::get<Submission>(body);
  Procedure p;
  p.id = new_procedure_id();
  p.name = def.name;
  p.partner_id = partner.id;
  p.idempotency_key = key;
  p.fingerprint = fingerprint(def.name, s);
  p.request_id = request_id;
  p.purpose = s.purpose;
  p.on_behalf_of = s.on_behalf_of;
  p.procedure_code = s.procedure_code;
  p.input = json::serialize(s.input);
  p.created_ms = util::unix_ms_now();
  p.updated_ms = p.created_ms;
  for (const auto& step : def.steps) {
    Step st;
    st.name = step.name;
    p.steps.push_back(std::move(st));
  }
  auto work = [this, p] { return store_.create(p); };
  auto created = util::on_pool<std::pair<Procedure, bool>>(engine_.context(), std::move(work));
  const auto [stored, fresh] = co_await std::move(created);
  if (fresh) {
    engine_.submit(stored);
    call.res = procedure_response(Status::accepted, stored, &def, request_id, req.version(),
                                  req.keep_alive());
  } else if (stored.fingerprint != p.fingerprint || stored.name != p.name) {
    refuse(http::problem(Status::unprocessable_entity, "idempotency-key-reused",
                         "Idempotency-Key already used",
                         "this key started a procedure with other parameters; use a new key for "
                         "a new procedure",
                         {{"header:Idempotency-Key", "already used for procedure " + stored.id}}));
  } else {
    call.res =
        procedure_response(Status::ok, stored, &def, request_id, req.version(), req.keep_alive());
    call.res.set("Idempotent-Replayed", "true");
  }
  gateway::Admission::decorate(call.res, &decision);
  co_return call;
}

boost::asio::awaitable<ProcedureCall> ProcedureApi::status(const http::Request& req,
                                                           std::string_view id,
                                                           const gateway::Partner& partner,
                                                           const std::string& request_id) {
  ProcedureCall call;
  std::optional<Procedure> found;
  if (plausible_id(id)) {
    auto work = [this, id = std::string(id)] { return store_.get(id); };
    auto read = util::on_pool<std::optional<Procedure>>(engine_.context(), std::move(work));
    found = co_await std::move(read);
  }
  // Another partner's procedure is answered as if it did not exist.
  if (!found || found->partner_id != partner.id) {
    call.res =
        http::make_problem_response(not_found(), request_id, req.version(), req.keep_alive());
    co_return call;
  }
  const auto def = procedures_.definitions.find(found->name);
  call.purpose = found->purpose;
  call.on_behalf_of = found->on_behalf_of;
  call.procedure_code = found->procedure_code.empty() ? found->name : found->procedure_code;
  // The read releases the steps' results: the citizens they name are its subjects.
  for (const auto& st : found->steps) {
    boost::system::error_code ec;
    const auto r = json::parse(st.result, ec);
    if (ec || !r.is_object()) continue;
    if (const auto* c = r.as_object().if_contains("citizen_id"); c && c->is_string())
      call.subjects.emplace_back(c->as_string());
  }
  call.res = procedure_response(Status::ok, *found,
                                def == procedures_.definitions.end() ? nullptr : &def->second,
                                request_id, req.version(), req.keep_alive());
  co_return call;
}

}  // namespace lgsp::procedures
