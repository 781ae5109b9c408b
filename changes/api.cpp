#include "changes/api.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <map>

#include "gateway/responses.hpp"
#include "registries/commands.hpp"
#include "registries/table.hpp"
#include "util/clock.hpp"
#include "util/on_pool.hpp"

namespace lgsp::changes {

namespace asio = boost::asio;
namespace json = boost::json;
namespace bhttp = boost::beast::http;
using http::Problem;
using http::Status;

namespace {

constexpr std::string_view kPath = "/v1/changes";
constexpr std::int64_t kDefaultLimit = 100;
constexpr std::int64_t kMaxLimit = 1000;

struct Query {
  std::string purpose;
  std::int64_t after = -1;
  std::int64_t limit = kDefaultLimit;
  std::int64_t wait_s = 0;
};

/// A decimal integer of `min`..`max`, else nullopt.
std::optional<std::int64_t> integer(std::string_view s, std::int64_t min, std::int64_t max) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty() || v < min || v > max)
    return std::nullopt;
  return v;
}

std::variant<Query, std::vector<http::FieldError>> read_query(std::string_view target,
                                                              std::int64_t max_wait) {
  Query q;
  std::vector<http::FieldError> errors;
  const auto mark = target.find('?');
  std::string_view rest =
      mark == std::string_view::npos ? std::string_view{} : target.substr(mark + 1);
  std::map<std::string, std::string, std::less<>> seen;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const std::string key(pair.substr(0, eq));
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (key != "purpose" && key != "after" && key != "limit" && key != "wait") {
      errors.push_back({key.size() <= 64 ? key : key.substr(0, 64) + "…",
                        "unknown parameter (purpose, after, limit, wait)"});
      continue;
    }
    if (!seen.emplace(key, value).second) errors.push_back({key, "given twice"});
  }
  if (const auto it = seen.find("purpose"); it == seen.end() || it->second.empty()) {
    errors.push_back({"purpose", "required: the purpose the partner reads the changes for"});
  } else if (it->second.size() > 128) {
    errors.push_back({"purpose", "must be 1-128 characters"});
  } else {
    q.purpose = it->second;
  }
  if (const auto it = seen.find("after"); it != seen.end()) {
    if (auto v = integer(it->second, 0, INT64_MAX - 1)) {
      q.after = *v;
    } else {
      errors.push_back({"after", "must be a cursor this API returned (a non-negative integer)"});
    }
  }
  if (const auto it = seen.find("limit"); it != seen.end()) {
    if (auto v = integer(it->second, 1, kMaxLimit)) {
      q.limit = *v;
    } else {
      errors.push_back({"limit", "must be an integer of 1-" + std::to_string(kMaxLimit)});
    }
  }
  if (const auto it = seen.find("wait"); it != seen.end()) {
    if (auto v = integer(it->second, 0, max_wait)) {
      q.wait_s = *v;
    } else {
      errors.push_back(
          {"wait", "must be an integer of 0-" + std::to_string(max_wait) + " (seconds)"});
    }
  }
  if (!errors.empty()) return errors;
  return q;
}

}  // namespace

std::map<std::string, std::set<std::string>> readable_kinds(
    const std::map<std::string, std::set<std::string>>& grants) {
  std::map<std::string, std::set<std::string>> kinds = grants;
  for (const auto& [kind, _] : grants) {
    const auto dot = kind.find('.');
    const auto* module = registries::find(kind.substr(0, dot));
    if (module == nullptr) continue;
    const auto* spec = registries::find_command(module->catalogue().commands,
                                                std::string_view(kind).substr(dot + 1));
    if (spec != nullptr && !spec->undo.empty())
      kinds.try_emplace(kind.substr(0, dot + 1) + std::string(spec->undo));
  }
  return kinds;
}

json::object change_json(const Change& c, const std::set<std::string>& members,
                         std::set<std::string>& released) {
  json::object data;
  for (const auto& [k, v] : c.data) {
    if (!members.contains(k)) continue;
    data[k] = v;
    released.insert(c.registry + "." + k);
  }
  json::object o{{"cursor", std::to_string(c.offset)},
                 {"id", c.event_id},
                 {"registry", c.registry},
                 {"kind", c.kind},
                 {"citizen_id", c.citizen_id},
                 {"occurred_at", gateway::format_utc(c.time_unix_ms)},
                 {"data", std::move(data)}};
  if (!c.voids.empty()) o["voids"] = c.voids;
  return o;
}

bool ChangesApi::matches(std::string_view target) {
  return target.substr(0, target.find('?')) == kPath;
}

asio::awaitable<FeedCall> ChangesApi::handle(const http::Request& req,
                                             const gateway::Partner& partner,
                                             const std::string& request_id,
                                             gateway::Admission& admission) {
  FeedCall call;
  const auto refuse = [&](const Problem& p) {
    call.res = http::make_problem_response(p, request_id, req.version(), req.keep_alive());
  };
  if (req.method() != bhttp::verb::get) {
    refuse(http::problem(Status::method_not_allowed, "method-not-allowed", "Method not allowed",
                         "GET /v1/changes?purpose=…&after=… reads the change feed"));
    call.res.set(bhttp::field::allow, "GET");
    co_return call;
  }
  if (partner.changes.empty()) {
    refuse(http::problem(
        Status::forbidden, "operation-not-allowed", "Operation not allowed",
        "partner '" + partner.id + "' is granted no kind of change (partners[].changes)"));
    co_return call;
  }
  auto query = read_query(req.target(), feed_.max_wait().count());
  if (const auto* q = std::get_if<Query>(&query)) call.purpose = q->purpose;
  gateway::RateLimiter::Decision decision;
  if (auto limited = admission.limit(partner, "changes", "read", decision)) {
    refuse(*limited);
    gateway::Admission::decorate(call.res, &decision);
    co_return call;
  }
  if (auto* errors = std::get_if<std::vector<http::FieldError>>(&query)) {
    refuse(http::validation_problem(std::move(*errors)));
    co_return call;
  }
  const auto& q = std::get<Query>(query);
  if (auto refused = admission.purpose(partner, q.purpose)) {
    refuse(*refused);
    co_return call;
  }
  const auto kinds = readable_kinds(partner.changes);
  std::set<std::string> kind_keys;
  for (const auto& [k, _] : kinds) kind_keys.insert(k);

  // Long-poll: read; when nothing came, wait for a change to be stored (or a second, in case
  // a wake-up was missed) and read again, until the wait is over.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(q.wait_s);
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
  Page page;
  for (;;) {
    const std::int64_t seen_high = feed_.store().high();
    auto work = [this, after = q.after, kind_keys, limit = static_cast<std::size_t>(q.limit)] {
      return feed_.store().read(after, kind_keys, limit);
    };
    auto read = util::on_pool<Page>(feed_.pool(), std::move(work));
    page = co_await std::move(read);
    if (!page.changes.empty() || page.expired || feed_.stopping() ||
        std::chrono::steady_clock::now() >= until) {
      break;
    }
    feed_.wait_on(timer);
    if (feed_.store().high() == seen_high) {
      timer->expires_at(
          std::min(until, std::chrono::steady_clock::now() + std::chrono::seconds(1)));
      boost::system::error_code ec;
      co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    feed_.done_waiting(timer);
  }
  if (page.expired) {
    refuse(http::problem(Status::gone, "cursor-expired", "The cursor has expired",
                         "changes after this cursor were deleted by retention "
                         "(changes.retention_hours); the oldest cursor still complete is " +
                             std::to_string(page.purged_through)));
    co_return call;
  }
  json::array out;
  std::set<std::string> released;
  const auto now = util::unix_ms_now();
  for (const auto& c : page.changes) {
    out.push_back(change_json(c, kinds.at(c.registry + "." + c.kind), released));
    call.subjects.push_back(c.citizen_id);
    feed_.delivered(static_cast<double>(now - c.time_unix_ms) / 1000.0);
  }
  call.released.assign(released.begin(), released.end());
  json::object body{{"request_id", request_id},
                    {"changes", std::move(out)},
                    {"next", std::to_string(page.next < 0 ? -1 : page.next)}};
  if (page.next < 0) body["next"] = nullptr;
  call.res = http::make_json_response(Status::ok, json::serialize(body), request_id, req.version(),
                                      req.keep_alive());
  gateway::Admission::decorate(call.res, &decision);
  co_return call;
}

}  // namespace lgsp::changes
