#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "registries/backends/resilience.hpp"
#include "util/http_client.hpp"

namespace lgsp::registries::upstream {

/// How to reach a ministry's REST API (the "upstream" backend of a registry module).
struct Options {
  /// https://host[:port][/base]; plain http only to a loopback host (127.0.0.1, ::1, localhost).
  std::string base_url;
  /// PEM CA certificates for the upstream's certificate ("" = the system's store); a client
  /// certificate and key for mutual TLS, both or neither.
  std::string ca_file, cert_file, key_file;
  /// The name of an environment variable holding the bearer token, never the token itself.
  std::string bearer_token_env;
  /// Each attempt's deadline. A call's overall deadline is timeout × max_attempts unless the
  /// caller passes an earlier one.
  std::chrono::milliseconds timeout{800};
  int max_attempts = 3;
  /// Retries may add at most this fraction of first attempts over `retry_window`, plus
  /// `retry_floor` per window, so that a failing upstream is not hammered.
  double retry_budget = 0.2;
  int retry_floor = 10;
  std::chrono::milliseconds retry_window{10000};
  /// Before retry n (1, 2, …): backoff × 2^(n-1), jittered down to half of that at random.
  std::chrono::milliseconds backoff{50};
  /// Consecutive failed calls that open the breaker, and how long it stays open before one
  /// probe call may go through.
  int breaker_failures = 5;
  std::chrono::milliseconds breaker_open_for{5000};
  /// Larger answers are `malformed`.
  std::size_t max_body = std::size_t{1} << 20;
};

/// One thing wrong with an Options: the field and what to change.
struct Problem {
  std::string_view key;
  std::string message;
};
/// Every problem with `o`, without I/O (files and the environment are checked by Client).
std::vector<Problem> problems(const Options& o);
/// problems() as one message ("key: message; key: message"), or nullopt when `o` is usable.
std::optional<std::string> check(const Options& o);

/// Why a call has no answer. Names (to_string) are stable: metrics labels and problem types.
enum class Failure {
  kTimeout,      // "timeout": no whole answer within the deadline
  kUnavailable,  // "unavailable": refused, reset, or 5xx/429 (after retries where they apply)
  kCircuitOpen,  // "circuit_open": not sent; the breaker is open after repeated failures
  kMalformed,    // "malformed": not JSON, wrong content type, over max_body, cut short
  kRejected,     // "rejected": 401/403/other 4xx, redirect, TLS trust: our side's config
};
std::string_view to_string(Failure failure);

/// What one get_json() ended with: a JSON answer (2xx), not found (404), or a failure.
struct Outcome {
  std::optional<Failure> failure;
  int status = 0;           // the last HTTP status received; 0 when none was
  boost::json::value json;  // the parsed body of a 2xx answer; null otherwise
  int attempts = 0;         // requests sent (0 when the breaker refused the call)
  /// For operators when failed: "upstream GET …", the kind, status, host and what to check.
  /// Never the path or anything from it (it holds a citizen's ID), never the body.
  std::string message;

  bool ok() const { return !failure.has_value(); }
  bool found() const { return ok() && status != 404; }
  bool not_found() const { return ok() && status == 404; }
};

/// Counters since construction, for the owner's probe and for tests.
struct Stats {
  std::int64_t calls = 0;
  std::int64_t attempts = 0;  // requests sent: first attempts and retries
  std::int64_t retries = 0;
  std::int64_t retries_denied = 0;   // by the retry budget
  std::int64_t short_circuited = 0;  // calls the open breaker failed fast
  std::int64_t breaker_opened = 0;
  CircuitBreaker::State breaker = CircuitBreaker::State::kClosed;
};

namespace detail {
struct Attempt;  // one request's verdict (upstream.cpp)
}

/// A client of one upstream REST API. Thread-safe: calls from several threads share the
/// breaker, the retry budget and a pool of kept-alive connections (one per concurrent call).
/// Blocks the calling thread for at most the call's overall deadline (plus name resolution).
class Client {
 public:
  /// Test seams: the clock of the breaker and the retry budget, the backoff's sleep, and the
  /// jitter's source of [0, 1) numbers. Each defaults to the real thing. Attempt deadlines
  /// always use the real steady clock (the sockets do).
  struct Hooks {
    Clock now;
    std::function<void(std::chrono::milliseconds)> sleep;
    std::function<double()> random;
  };
  using Deadline = std::optional<std::chrono::steady_clock::time_point>;

  /// Throws std::invalid_argument with what to change when check(options) fails, the token's
  /// environment variable is unset or empty, or a certificate or key cannot be loaded.
  explicit Client(Options options, Hooks hooks = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// GETs base_url + `path` (which starts with '/'; escape the ID in it with
  /// util::query_escape) with Accept: application/json and the bearer token. Retries
  /// timeouts, connection failures and 502/503/504 within max_attempts, the retry budget and
  /// the deadline (the earlier of `deadline` and timeout × max_attempts from now).
  Outcome get_json(std::string_view path, Deadline deadline = std::nullopt);
  /// POSTs `body` (JSON) to base_url + `path` with an Idempotency-Key: the upstream applies
  /// a key once, so timeouts and 502/503/504 are retried as for a GET. A refusal (4xx) is a
  /// failure kRejected with its status.
  Outcome post_json(std::string_view path, const std::string& body,
                    const std::string& idempotency_key, Deadline deadline = std::nullopt);

  Stats stats() const;

 private:
  Outcome exchange(std::string_view method, std::string_view path, const std::string& body,
                   const util::HttpClient::Headers& extra, Deadline deadline);
  detail::Attempt attempt(std::string_view method, const std::string& target,
                          const std::string& body, const util::HttpClient::Headers& extra,
                          std::chrono::steady_clock::time_point deadline);
  /// The pause before retry `attempt` (1, 2, …) after a transient failure, or nullopt when
  /// there is none: a retry must fit max_attempts, the deadline (half a timeout left after its
  /// pause) and the retry budget. Says why not in `stop_note` when that is news to operators.
  std::optional<std::chrono::milliseconds> retry_pause(
      int attempt, std::chrono::steady_clock::time_point overall, std::string& stop_note);
  std::unique_ptr<util::HttpClient> take_connection();
  void give_back(std::unique_ptr<util::HttpClient> connection);

  Options options_;
  Hooks hooks_;
  util::HttpUrl url_;
  util::HttpClientOptions http_options_;
  util::HttpClient::Headers headers_;  // Accept, and Authorization when there is a token
  mutable std::mutex mutex_;           // guards everything below
  CircuitBreaker breaker_;
  RetryBudget budget_;
  Stats stats_;
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<util::HttpClient>> idle_;
};

}  // namespace lgsp::registries::upstream
