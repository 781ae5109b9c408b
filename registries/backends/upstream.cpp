#include "registries/backends/upstream.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <cctype>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "observability/metrics.hpp"
#include "util/media_type.hpp"

namespace lgsp::registries::upstream {

namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---------------------------------------------------------------------------------- options

namespace {

bool env_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front())) != 0) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  });
}

void check_url(const Options& o, std::vector<Problem>& out) {
  auto parsed = util::parse_http_url(o.base_url, "the URL",
                                     "put the token in the variable bearer_token_env names");
  if (const auto* e = std::get_if<std::string>(&parsed)) {
    out.push_back({"base_url", *e});
    return;
  }
  const auto& url = std::get<util::HttpUrl>(parsed);
  if (!url.tls && !url.loopback()) {
    out.push_back({"base_url",
                   "must use https:// (plain http:// only to 127.0.0.1, ::1 or localhost): "
                   "citizens' data must not cross a network in clear"});
  }
  if (!url.tls) {
    for (const auto& [key, value] :
         {std::pair<std::string_view, const std::string&>{"ca_file", o.ca_file},
          {"cert_file", o.cert_file},
          {"key_file", o.key_file}}) {
      if (!value.empty()) out.push_back({key, "needs an https:// base_url"});
    }
  }
}

}  // namespace

std::vector<Problem> problems(const Options& o) {
  std::vector<Problem> out;
  check_url(o, out);
  if (o.cert_file.empty() != o.key_file.empty()) {
    out.push_back({o.cert_file.empty() ? "cert_file" : "key_file",
                   "cert_file and key_file go together: set both for mutual TLS, or neither"});
  }
  if (!o.bearer_token_env.empty() && !env_name(o.bearer_token_env)) {
    out.push_back({"bearer_token_env",
                   "must be the name of an environment variable (letters, digits, _) that holds "
                   "the token, never the token itself"});
  }
  const auto need = [&](bool ok, std::string_view key, const char* what) {
    if (!ok) out.push_back({key, what});
  };
  need(o.timeout.count() > 0, "timeout", "must be positive");
  need(o.max_attempts >= 1 && o.max_attempts <= 10, "max_attempts", "must be from 1 to 10");
  need(o.retry_budget >= 0 && o.retry_budget <= 1, "retry_budget",
       "must be from 0 to 1 (the fraction of first attempts that retries may add)");
  need(o.retry_floor >= 0, "retry_floor", "must be 0 or more");
  need(o.retry_window.count() > 0, "retry_window", "must be positive");
  need(o.backoff.count() >= 0, "backoff", "must be 0 or more");
  need(o.breaker_failures >= 1, "breaker_failures", "must be 1 or more");
  need(o.breaker_open_for.count() > 0, "breaker_open_for", "must be positive");
  need(o.max_body > 0, "max_body", "must be positive");
  return out;
}

std::optional<std::string> check(const Options& o) {
  const auto all = problems(o);
  if (all.empty()) return std::nullopt;
  std::string text;
  for (const auto& p : all) {
    if (!text.empty()) text += "; ";
    text += std::string(p.key) + ": " + p.message;
  }
  return text;
}

std::string_view to_string(Failure failure) {
  switch (failure) {
    case Failure::kTimeout:
      return "timeout";
    case Failure::kUnavailable:
      return "unavailable";
    case Failure::kCircuitOpen:
      return "circuit_open";
    case Failure::kMalformed:
      return "malformed";
    case Failure::kRejected:
      return "rejected";
  }
  return "unknown";
}

// -------------------------------------------------------------------- one attempt's verdict

/// One request's outcome, and whether trying again could change it.
struct detail::Attempt {
  Outcome outcome;
  std::string detail;  // the message after "upstream GET "
  bool transient = false;
};

namespace {

using detail::Attempt;

Attempt failed(Failure kind, int status, std::string detail, bool transient = false) {
  Attempt a;
  a.outcome.failure = kind;
  a.outcome.status = status;
  a.detail = std::move(detail);
  a.transient = transient;
  return a;
}

Attempt from_success(const util::HttpAnswer& answer) {
  const std::string status = std::to_string(answer.status);
  const std::string media = util::media_type(answer.header("content-type"));
  if (!util::is_json(media, /*structured=*/true)) {
    return failed(Failure::kMalformed, answer.status,
                  "answered " + status + " with content type " +
                      (media.empty() ? std::string("(none)") : media) + ", not JSON");
  }
  boost::system::error_code ec;
  json::value body = json::parse(answer.body, ec);
  if (ec) {
    return failed(Failure::kMalformed, answer.status,
                  "answered " + status + " with a body that is not JSON (" + ec.message() + ")");
  }
  Attempt a;
  a.outcome.status = answer.status;
  a.outcome.json = std::move(body);
  return a;
}

Attempt from_answer(const util::HttpAnswer& answer, const Options& o) {
  const int s = answer.status;
  const std::string status = std::to_string(s);
  if (s >= 200 && s < 300) return from_success(answer);
  if (s == 404) {
    // A wrong base_url also yields 404s, usually as a web server's HTML page: only a JSON (or
    // empty) 404 is the API saying that it holds no such record.
    const std::string media = util::media_type(answer.header("content-type"));
    if (util::is_json(media, /*structured=*/true) || answer.body.empty()) {
      Attempt a;
      a.outcome.status = s;
      return a;
    }
    return failed(Failure::kMalformed, s,
                  "answered 404 with content type " + media +
                      ", not the API's JSON: check that base_url points at the API");
  }
  if (s == 502 || s == 503 || s == 504)
    return failed(Failure::kUnavailable, s, "answered " + status, true);
  if (s >= 500) return failed(Failure::kUnavailable, s, "answered " + status);
  if (s == 429)
    return failed(Failure::kUnavailable, s, "answered 429: the upstream limits our rate");
  if (s == 401 || s == 403) {
    return failed(
        Failure::kRejected, s,
        "answered " + status + ": the upstream refuses our credentials; " +
            (o.bearer_token_env.empty()
                 ? std::string("set bearer_token_env, or check the client certificate")
                 : "check the token in " + o.bearer_token_env + " and the client certificate"));
  }
  if (s >= 300 && s < 400) {
    return failed(Failure::kRejected, s,
                  "answered " + status + ": redirects are not followed; check base_url");
  }
  return failed(Failure::kRejected, s, "answered " + status + ": the upstream rejects our request");
}

Attempt from_transport(const util::TransportError& e) {
  using util::TransportFailure;
  const std::string what = e.what();  // host:port and the error; never the target
  switch (e.failure()) {
    case TransportFailure::kTimeout:
      return failed(Failure::kTimeout, 0, "timed out: " + what, true);
    case TransportFailure::kConnect:
    case TransportFailure::kDropped:
      return failed(Failure::kUnavailable, 0, "failed: " + what, true);
    case TransportFailure::kResolve:
      return failed(Failure::kUnavailable, 0, "failed: " + what + "; check base_url's host");
    case TransportFailure::kTls:
      return failed(Failure::kRejected, 0,
                    "failed: " + what + "; check ca_file, cert_file and key_file");
    case TransportFailure::kTruncated:
    case TransportFailure::kTooLarge:
      return failed(Failure::kMalformed, 0, "failed: " + what);
  }
  return failed(Failure::kUnavailable, 0, "failed: " + what);
}

/// An answer that says something about the upstream's health for the breaker: rejected is
/// our configuration, not the upstream's state.
bool healthy(const Outcome& o) { return !o.failure || *o.failure == Failure::kRejected; }

/// A request target that cannot smuggle a header or a second request.
bool valid_target(std::string_view path) {
  return !path.empty() && path.front() == '/' && std::none_of(path.begin(), path.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7F;
  });
}

Outcome not_sent(Failure kind, std::string message) {
  Outcome o;
  o.failure = kind;
  o.message = "upstream GET not sent: " + std::move(message);
  return o;
}

}  // namespace

// ----------------------------------------------------------------------------------- client

namespace {

Options checked(Options o) {
  if (auto e = check(o)) throw std::invalid_argument("upstream: " + *e);
  return o;
}

Client::Hooks with_defaults(Client::Hooks h) {
  if (!h.now) h.now = [] { return SteadyClock::now(); };
  if (!h.sleep) h.sleep = [](milliseconds d) { std::this_thread::sleep_for(d); };
  return h;
}

/// The token from the environment (read once: the connector starts, then runs threads).
std::string bearer_token(const std::string& env) {
  if (env.empty()) return {};
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read while the connector starts, before its threads.
  const char* value = std::getenv(env.c_str());
  if (value == nullptr || *value == '\0') {
    throw std::invalid_argument("upstream: the environment variable " + env +
                                " (bearer_token_env) is not set or empty; put the token in it");
  }
  std::string token(value);
  if (!std::all_of(token.begin(), token.end(), [](char c) { return c > 0x20 && c < 0x7F; })) {
    throw std::invalid_argument("upstream: the token in " + env +
                                " must be visible ASCII without spaces");
  }
  return token;
}

}  // namespace

Client::Client(Options options, Hooks hooks)
    : options_(checked(std::move(options))),
      hooks_(with_defaults(std::move(hooks))),
      url_(std::get<util::HttpUrl>(util::parse_http_url(options_.base_url))),
      breaker_(options_.breaker_failures, options_.breaker_open_for, hooks_.now),
      budget_(options_.retry_budget, options_.retry_floor, options_.retry_window, hooks_.now),
      rng_(std::random_device{}()) {
  http_options_.ca_file = options_.ca_file;
  http_options_.cert_file = options_.cert_file;
  http_options_.key_file = options_.key_file;
  http_options_.idle_timeout = options_.timeout;
  http_options_.max_body = options_.max_body;
  http_options_.keep_alive = true;
  http_options_.user_agent = "lgsp-connector/" + std::string(obs::version());
  headers_["Accept"] = "application/json";
  if (const std::string token = bearer_token(options_.bearer_token_env); !token.empty()) {
    headers_["Authorization"] = "Bearer " + token;
  }
  try {
    // The first connection now, so that a certificate that cannot be loaded stops the start.
    idle_.push_back(std::make_unique<util::HttpClient>(url_, http_options_));
  } catch (const std::runtime_error& e) {
    throw std::invalid_argument(std::string("upstream: ") + e.what());
  }
}

Client::~Client() = default;

Outcome Client::get_json(std::string_view path, Deadline deadline) {
  return exchange("GET", path, {}, {}, deadline);
}

Outcome Client::post_json(std::string_view path, const std::string& body,
                          const std::string& idempotency_key, Deadline deadline) {
  return exchange("POST", path, body,
                  {{"Content-Type", "application/json"}, {"Idempotency-Key", idempotency_key}},
                  deadline);
}

Outcome Client::exchange(std::string_view method, std::string_view path, const std::string& body,
                         const util::HttpClient::Headers& extra, Deadline deadline) {
  if (!valid_target(path)) {
    return not_sent(Failure::kRejected,
                    "the path must start with / and hold no spaces or control characters");
  }
  const auto start = SteadyClock::now();
  auto overall = start + options_.timeout * options_.max_attempts;
  if (deadline) overall = std::min(overall, *deadline);
  if (overall <= start) return not_sent(Failure::kTimeout, "the deadline has passed");
  CircuitBreaker::Ticket ticket{};
  {
    const std::lock_guard lock(mutex_);
    ++stats_.calls;
    ticket = breaker_.admit();
    if (ticket == CircuitBreaker::Ticket::kRefused) {
      ++stats_.short_circuited;
      return not_sent(Failure::kCircuitOpen,
                      "the circuit breaker is open after repeated failures (" +
                          std::to_string(breaker_.remaining_open().count()) + " ms left)");
    }
    budget_.record_first();
  }
  const std::string target(path);
  Attempt a;
  int n = 0;
  std::string stop_note;
  for (;;) {
    a = attempt(method, target, body, extra,
                std::min(SteadyClock::now() + options_.timeout, overall));
    ++n;
    // A half-open breaker's probe is one request: it tests the upstream, it does not insist.
    if (!a.transient || ticket == CircuitBreaker::Ticket::kProbe) break;
    const auto pause = retry_pause(n, overall, stop_note);
    if (!pause) break;
    if (pause->count() > 0) hooks_.sleep(*pause);
  }
  a.outcome.attempts = n;
  if (a.outcome.failure) {
    a.outcome.message = "upstream " + std::string(method) + " " + a.detail;
    if (n > 1 || !stop_note.empty()) {
      a.outcome.message +=
          " (" + std::to_string(n) + (n == 1 ? " attempt" : " attempts") + stop_note + ")";
    }
  }
  const std::lock_guard lock(mutex_);
  breaker_.record(ticket, healthy(a.outcome));
  return std::move(a.outcome);
}

detail::Attempt Client::attempt(std::string_view method, const std::string& target,
                                const std::string& body, const util::HttpClient::Headers& extra,
                                SteadyClock::time_point deadline) {
  {
    const std::lock_guard lock(mutex_);
    ++stats_.attempts;
  }
  Attempt a;
  std::unique_ptr<util::HttpClient> connection;
  try {
    connection = take_connection();
    util::HttpClient::Headers headers = headers_;
    for (const auto& [k, v] : extra) headers[k] = v;
    a = from_answer(connection->call(method, target, headers, body, deadline), options_);
  } catch (const util::TransportError& e) {
    a = from_transport(e);
  } catch (const std::runtime_error& e) {
    // A new connection's certificate files could not be loaded (they were at start).
    a = failed(Failure::kRejected, 0, std::string("failed: ") + e.what());
  }
  if (connection) give_back(std::move(connection));
  return a;
}

std::optional<milliseconds> Client::retry_pause(int attempt, SteadyClock::time_point overall,
                                                std::string& stop_note) {
  if (attempt >= options_.max_attempts) return std::nullopt;
  const milliseconds full = options_.backoff * (std::int64_t{1} << std::min(attempt - 1, 20));
  const std::lock_guard lock(mutex_);
  const double r =
      hooks_.random ? hooks_.random() : std::uniform_real_distribution<double>(0, 1)(rng_);
  const milliseconds pause =
      full / 2 +
      milliseconds(static_cast<std::int64_t>(static_cast<double>((full - full / 2).count()) * r));
  // A retry is worth it only with half a timeout left after its pause.
  if (SteadyClock::now() + pause + options_.timeout / 2 > overall) {
    stop_note = "; no time left for another";
    return std::nullopt;
  }
  if (!budget_.try_retry()) {
    ++stats_.retries_denied;
    stop_note = "; the retry budget allows no more now";
    return std::nullopt;
  }
  ++stats_.retries;
  return pause;
}

std::unique_ptr<util::HttpClient> Client::take_connection() {
  {
    const std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return std::make_unique<util::HttpClient>(url_, http_options_);
}

void Client::give_back(std::unique_ptr<util::HttpClient> connection) {
  const std::lock_guard lock(mutex_);
  idle_.push_back(std::move(connection));
}

Stats Client::stats() const {
  const std::lock_guard lock(mutex_);
  Stats s = stats_;
  s.breaker_opened = breaker_.times_opened();
  s.breaker = breaker_.state();
  return s;
}

}  // namespace lgsp::registries::upstream
