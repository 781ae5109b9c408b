#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

namespace lgsp::app {

/// Where a gateway is: `http[s]://host[:port][/base/path]`.
struct GatewayUrl {
  bool tls = false;
  std::string host;        // a name, an IPv4 address, or an IPv6 address without brackets
  std::uint16_t port = 0;  // 80 or 443 unless given
  std::string base_path;   // "" or "/prefix" (no trailing slash): prepended to every target

  /// The Host header value (port only when it is not the scheme's default).
  std::string host_header() const;
};

/// Parses a gateway URL; the error says what is wrong with it.
std::variant<GatewayUrl, std::string> parse_gateway_url(std::string_view url);

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters stay as they are).
std::string query_escape(std::string_view value);

/// The connection failed or dropped before a whole answer arrived (refused, reset, timed out,
/// closed mid-answer), as opposed to an answer with an error status. `retryable` is false
/// for what trying again cannot fix (a TLS certificate that does not verify).
class TransportError : public std::runtime_error {
 public:
  TransportError(const std::string& what, bool retryable)
      : std::runtime_error(what), retryable_(retryable) {}
  bool retryable() const { return retryable_; }

 private:
  bool retryable_;
};

struct HttpAnswer {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // empty when it was streamed to a sink
  std::string header(const std::string& lower_name) const;
};

/// Synchronous HTTP/1.1 client for the `lgsp batch` commands: one connection per request, over
/// plain TCP or TLS (SNI and host-name verification; the system's CA store, or `ca_file`).
/// Every read and write has an idle timeout, so a stalled gateway cannot hang the command; a
/// long upload or download is fine as long as bytes keep moving.
/// Not thread-safe; cheap to construct (the TLS context is made once per client).
class HttpClient {
 public:
  using Headers = std::map<std::string, std::string>;

  HttpClient(GatewayUrl url, const std::string& ca_file,
             std::chrono::seconds idle_timeout = std::chrono::seconds(60));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// One request with a small body (answers up to 8 MiB are kept). Throws TransportError.
  HttpAnswer call(std::string_view method, const std::string& target, const Headers& headers,
                  const std::string& body = {});

  /// Sends a file as the body, streamed from disk with its size as Content-Length.
  HttpAnswer upload(std::string_view method, const std::string& target, const Headers& headers,
                    const std::filesystem::path& file);

  /// GET whose 2xx body goes to `sink` piece by piece as it arrives (any length, chunked or
  /// not); other answers are kept in `body` as with call(). `sink` may throw to stop.
  HttpAnswer download(const std::string& target, const Headers& headers,
                      const std::function<void(std::string_view)>& sink);

  const GatewayUrl& url() const { return url_; }

 private:
  struct Impl;
  GatewayUrl url_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lgsp::app
