#include "registries/backends/upstream_record.hpp"

#include <boost/json.hpp>

#include <array>
#include <stdexcept>

#include "domain/dates.hpp"
#include "observability/log.hpp"
#include "util/http_client.hpp"

namespace lgsp::registries::upstream {
namespace {

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "upstream"; }
  std::string message(int ev) const override {
    switch (static_cast<Error>(ev)) {
      case Error::kTimeout:
        return "the upstream system did not answer in time";
      case Error::kUnavailable:
        return "the upstream system is unavailable";
      case Error::kCircuitOpen:
        return "the upstream system failed repeatedly; calls are paused (circuit open)";
      case Error::kMalformed:
        return "the upstream system's answer does not have the configured shape";
      case Error::kRejected:
        return "the upstream system refused the gateway's call (check credentials and paths)";
      case Error::kUnsupported:
        return "the upstream system is not configured for this kind of subject";
    }
    return "upstream error";
  }
  boost::system::error_condition default_error_condition(int ev) const noexcept override {
    switch (static_cast<Error>(ev)) {
      case Error::kTimeout:
      case Error::kUnavailable:
      case Error::kCircuitOpen:
        return boost::system::errc::resource_unavailable_try_again;
      case Error::kUnsupported:
        return boost::system::errc::operation_not_supported;
      default:
        return {ev, *this};
    }
  }
};

Error error_of(Failure f) {
  switch (f) {
    case Failure::kTimeout:
      return Error::kTimeout;
    case Failure::kUnavailable:
      return Error::kUnavailable;
    case Failure::kCircuitOpen:
      return Error::kCircuitOpen;
    case Failure::kMalformed:
      return Error::kMalformed;
    case Failure::kRejected:
      return Error::kRejected;
  }
  return Error::kUnavailable;
}

/// The scalar at `pointer` as text: strings as they are, integers in decimal. nullopt when
/// absent or null; `bad` when present with another type.
std::optional<std::string> scalar_at(const boost::json::value& doc, const std::string& pointer,
                                     bool& bad) {
  boost::system::error_code ec;
  const auto* v = doc.find_pointer(pointer, ec);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_int64()) return std::to_string(v->get_int64());
  if (v->is_uint64()) return std::to_string(v->get_uint64());
  bad = true;
  return std::nullopt;
}

}  // namespace

const boost::system::error_category& category() {
  static const Category kCategory;
  return kCategory;
}

boost::system::error_code make_error_code(Error e) { return {static_cast<int>(e), category()}; }

std::string take(Record& r, std::string_view column) {
  const auto it = r.find(column);
  return it == r.end() ? std::string() : std::move(it->second);
}

std::optional<std::string> iso_date(std::string_view value, std::string_view format) {
  std::string iso;
  if (format == "YYYY-MM-DD") {
    iso = value;
  } else if (format == "DD/MM/YYYY" && value.size() == 10 && value[2] == '/' && value[5] == '/') {
    iso = std::string(value.substr(6, 4)) + "-" + std::string(value.substr(3, 2)) + "-" +
          std::string(value.substr(0, 2));
  } else if (format == "YYYYMMDD" && value.size() == 8) {
    iso = std::string(value.substr(0, 4)) + "-" + std::string(value.substr(4, 2)) + "-" +
          std::string(value.substr(6, 2));
  } else {
    return std::nullopt;
  }
  if (!domain::parse_iso_date(iso)) return std::nullopt;
  return iso;
}

boost::system::result<Record> map_answer(const boost::json::value& answer,
                                         const std::map<std::string, config::UpstreamField>& fields,
                                         std::span<const std::string_view> required,
                                         std::string* why) {
  const auto malformed = [&](const std::string& column, const char* reason) {
    if (why != nullptr) *why = column + ": " + reason;
    return make_error_code(Error::kMalformed);
  };
  Record out;
  for (const auto& [column, f] : fields) {
    bool bad = false;
    auto v = scalar_at(answer, f.from, bad);
    if (bad) return malformed(column, "not a string or an integer");
    if (!v || v->empty()) continue;
    if (!f.date_format.empty()) {
      auto iso = iso_date(*v, f.date_format);
      if (!iso) return malformed(column, "not a date in the configured format");
      v = std::move(iso);
    }
    if (!f.values.empty()) {
      const auto it = f.values.find(*v);
      if (it == f.values.end()) return malformed(column, "a value the configuration does not map");
      v = it->second;
    }
    out.emplace(column, std::move(*v));
  }
  for (auto column : required) {
    if (!out.contains(column)) return malformed(std::string(column), "missing");
  }
  return out;
}

Options options_of(const config::UpstreamConfig& c) {
  Options o;
  o.base_url = c.base_url;
  o.ca_file = c.ca_file;
  o.cert_file = c.cert_file;
  o.key_file = c.key_file;
  o.bearer_token_env = c.bearer_token_env;
  o.timeout = std::chrono::milliseconds(c.timeout_ms);
  o.max_attempts = static_cast<int>(c.max_attempts);
  o.retry_budget = static_cast<double>(c.retry_budget_percent) / 100.0;
  o.breaker_failures = static_cast<int>(c.breaker_failures);
  o.breaker_open_for = std::chrono::milliseconds(c.breaker_open_ms);
  return o;
}

RecordSource::RecordSource(const config::UpstreamConfig& c,
                           std::span<const std::string_view> required)
    : config_(c), required_(required), client_(options_of(c)) {}

boost::system::result<std::optional<boost::json::value>> RecordSource::call(
    std::string_view subject_key, std::string_view value) {
  const auto path = config_.paths.find(std::string(subject_key));
  if (path == config_.paths.end()) return make_error_code(Error::kUnsupported);
  std::string target = path->second;
  const auto at = target.find("{value}");
  if (at != std::string::npos) target.replace(at, 7, util::query_escape(value));
  Outcome outcome = client_.get_json(target);
  if (!outcome.ok()) {
    obs::warn("upstream_call_failed",
              {{"kind", std::string(to_string(*outcome.failure))}, {"detail", outcome.message}});
    return make_error_code(error_of(*outcome.failure));
  }
  if (outcome.not_found()) return std::optional<boost::json::value>{};
  return std::optional<boost::json::value>(std::move(outcome.json));
}

boost::system::result<CommandOutcome> RecordSource::command(const bus::v1::Request& request) {
  const auto path = config_.commands.find(request.command());
  if (path == config_.commands.end())
    return boost::system::errc::make_error_code(boost::system::errc::operation_not_supported);
  boost::json::object args;
  for (const auto& [k, v] : request.args()) args[k] = v;
  const std::string body = boost::json::serialize(boost::json::object{
      {"command", request.command()}, {"command_id", request.command_id()}, {"args", args}});
  Outcome outcome = client_.post_json(path->second, body, request.command_id());
  if (!outcome.ok()) {
    if (*outcome.failure == Failure::kRejected && (outcome.status == 409 || outcome.status == 422))
      return CommandOutcome{
          true,
          "the registry's own system refused it (HTTP " + std::to_string(outcome.status) + ")",
          {},
          {}};
    obs::warn("upstream_call_failed",
              {{"kind", std::string(to_string(*outcome.failure))}, {"detail", outcome.message}});
    return make_error_code(error_of(*outcome.failure));
  }
  if (!outcome.json.is_object()) {
    obs::warn("upstream_answer_malformed", {{"detail", "a command's answer is not an object"}});
    return make_error_code(Error::kMalformed);
  }
  CommandOutcome applied;
  boost::json::object result;
  for (const auto& kv : outcome.json.as_object()) {
    if (kv.value().is_string()) result[kv.key()] = kv.value();
  }
  if (const auto it = request.args().find("citizen_id"); it != request.args().end())
    applied.citizen_id = it->second;
  else if (const auto* c = result.if_contains("citizen_id"); c != nullptr)
    applied.citizen_id = std::string(c->as_string());
  applied.result = boost::json::serialize(result);
  return applied;
}

boost::system::result<Record> RecordSource::map(const boost::json::value& answer) const {
  std::string why;
  auto record = map_answer(answer, config_.fields, required_, &why);
  if (!record) obs::warn("upstream_answer_malformed", {{"detail", why}});
  return record;
}

boost::system::result<std::optional<Record>> RecordSource::fetch(std::string_view subject_key,
                                                                 std::string_view value) {
  auto answer = call(subject_key, value);
  if (!answer) return answer.error();
  if (!*answer) return std::optional<Record>{};
  auto record = map(**answer);
  if (!record) return record.error();
  return std::optional<Record>(std::move(*record));
}

boost::system::result<std::vector<Record>> RecordSource::fetch_all(std::string_view subject_key,
                                                                   std::string_view value) {
  auto answer = call(subject_key, value);
  if (!answer) return answer.error();
  std::vector<Record> out;
  if (!*answer) return out;
  boost::system::error_code ec;
  const auto* list = (*answer)->find_pointer(config_.records, ec);
  if (list == nullptr || !list->is_array()) {
    obs::warn("upstream_answer_malformed", {{"detail", "records: not an array"}});
    return make_error_code(Error::kMalformed);
  }
  for (const auto& element : list->get_array()) {
    auto record = map(element);
    if (!record) return record.error();
    out.push_back(std::move(*record));
  }
  return out;
}

}  // namespace lgsp::registries::upstream
