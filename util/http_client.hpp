#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "util/http_url.hpp"

namespace lgsp::util {

/// Why an exchange ended without a whole answer.
enum class TransportFailure {
  kResolve,    // the host name does not resolve
  kConnect,    // refused, unreachable
  kTls,        // handshake or certificate (either side's): a retry cannot fix it
  kTimeout,    // a step's idle timeout or the call's deadline passed
  kDropped,    // the connection broke before the answer's header arrived
  kTruncated,  // the header arrived, then the connection broke mid-body
  kTooLarge,   // the body is over ClientOptions::max_body
};

/// The connection failed or dropped before a whole answer arrived, as opposed to an answer
/// with an error status. `retryable` is false for what trying again cannot fix (a TLS
/// certificate that does not verify, a name that does not resolve, an answer too large).
/// The message names the host and port, never the request target.
class TransportError : public std::runtime_error {
 public:
  TransportError(const std::string& what, TransportFailure failure, bool retryable)
      : std::runtime_error(what), failure_(failure), retryable_(retryable) {}
  TransportFailure failure() const { return failure_; }
  bool retryable() const { return retryable_; }

 private:
  TransportFailure failure_;
  bool retryable_;
};

struct HttpAnswer {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // empty when it was streamed to a sink
  std::string header(const std::string& lower_name) const;
};

struct HttpClientOptions {
  /// PEM CA certificates that verify the server; "" = the system's store.
  std::string ca_file;
  /// A client certificate (chain) and its private key, both PEM, for mutual TLS; both or neither.
  std::string cert_file;
  std::string key_file;
  /// Every connect, read and write must make progress within this.
  std::chrono::milliseconds idle_timeout{60000};
  /// Answers kept in `body` larger than this fail with kTooLarge (downloads to a sink are not
  /// limited).
  std::size_t max_body = std::size_t{8} << 20;
  /// Keep the connection open between calls when the server agrees (one at a time).
  bool keep_alive = false;
  std::string user_agent = "lgsp";
};

/// Synchronous HTTP/1.1 client: over plain TCP or TLS (SNI and host-name verification; the
/// system's CA store or `ca_file`; a client certificate on request). Every step has an idle
/// timeout, so a stalled server cannot hang the caller, and a call may also carry a deadline
/// for the whole exchange. With keep_alive, one connection is reused while the server keeps
/// it open; a GET that finds a reused connection closed by the server is sent once more on a
/// fresh one. Name resolution is bounded by the system resolver only.
/// Not thread-safe: one caller at a time (use one client per thread, or a pool).
class HttpClient {
 public:
  using Headers = std::map<std::string, std::string>;
  using Deadline = std::optional<std::chrono::steady_clock::time_point>;

  /// Throws std::runtime_error when a certificate or key file cannot be loaded.
  HttpClient(HttpUrl url, HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// One request with a small body (answers up to max_body are kept). Throws TransportError.
  HttpAnswer call(std::string_view method, const std::string& target, const Headers& headers,
                  const std::string& body = {}, Deadline deadline = std::nullopt);

  /// Sends a file as the body, streamed from disk with its size as Content-Length.
  HttpAnswer upload(std::string_view method, const std::string& target, const Headers& headers,
                    const std::filesystem::path& file);

  /// GET whose 2xx body goes to `sink` piece by piece as it arrives (any length, chunked or
  /// not); other answers are kept in `body` as with call(). `sink` may throw to stop.
  HttpAnswer download(const std::string& target, const Headers& headers,
                      const std::function<void(std::string_view)>& sink);

  const HttpUrl& url() const { return url_; }

 private:
  struct Impl;
  HttpUrl url_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lgsp::util
