#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace lgsp::util {

/// Where an HTTP service is: `http[s]://host[:port][/base/path]`.
struct HttpUrl {
  bool tls = false;
  std::string host;        // a name, an IPv4 address, or an IPv6 address without brackets
  std::uint16_t port = 0;  // 80 or 443 unless given
  std::string base_path;   // "" or "/prefix" (no trailing slash): prepended to every target

  /// The Host header value (port only when it is not the scheme's default).
  std::string host_header() const;
  /// 127.0.0.1, ::1 or localhost: traffic that never leaves the machine.
  bool loopback() const;
};

/// Parses a URL; the error says what is wrong with it, calling it `what` ("the gateway URL").
/// `credentials_hint` follows the error for a URL with user:password@ (how to pass them).
std::variant<HttpUrl, std::string> parse_http_url(std::string_view url,
                                                  std::string_view what = "the URL",
                                                  std::string_view credentials_hint = {});

/// Percent-encodes a query parameter value or one path segment (RFC 3986 unreserved
/// characters stay as they are; '/' is encoded).
std::string query_escape(std::string_view value);

}  // namespace lgsp::util
