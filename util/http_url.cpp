#include "util/http_url.hpp"

#include <cctype>
#include <charconv>
#include <optional>

namespace lgsp::util {

std::string HttpUrl::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) h += ":" + std::to_string(port);
  return h;
}

namespace {

bool starts_with_nocase(std::string_view text, std::string_view lower_prefix) {
  if (text.size() < lower_prefix.size()) return false;
  for (std::size_t i = 0; i < lower_prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != lower_prefix[i]) return false;
  }
  return true;
}

bool equals_nocase(std::string_view a, std::string_view lower) {
  return a.size() == lower.size() && starts_with_nocase(a, lower);
}

/// Splits `host[:port]` or `[v6][:port]` into out.host and `port_text`; the error, if any.
std::optional<std::string> split_authority(std::string_view authority, std::string_view what,
                                           HttpUrl& out, std::string_view& port_text) {
  const std::string w(what);
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return w + " has an unclosed [";
    out.host = std::string(authority.substr(1, close - 1));
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return w + " has text after ]";
      port_text = rest.substr(1);
      if (port_text.empty()) return w + " has an empty port";
    }
  } else {
    const auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return w + " has an empty port";
    }
  }
  if (out.host.empty()) return w + " has no host";
  return std::nullopt;
}

}  // namespace

bool HttpUrl::loopback() const {
  return host == "127.0.0.1" || host == "::1" || equals_nocase(host, "localhost");
}

std::variant<HttpUrl, std::string> parse_http_url(std::string_view url, std::string_view what,
                                                  std::string_view credentials_hint) {
  const std::string w(what);
  HttpUrl out;
  if (starts_with_nocase(url, "https://")) {
    out.tls = true;
    url.remove_prefix(8);
  } else if (starts_with_nocase(url, "http://")) {
    url.remove_prefix(7);
  } else {
    return w + " must start with http:// or https://";
  }
  const auto slash = url.find_first_of("/?#");
  const std::string_view authority = url.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : url.substr(slash);
  if (path.find_first_of("?#") != std::string_view::npos) {
    return w + " must not have a query or fragment";
  }
  if (authority.find('@') != std::string_view::npos) {
    std::string e = w + " must not hold credentials";
    if (!credentials_hint.empty()) e += "; " + std::string(credentials_hint);
    return e;
  }
  std::string_view port_text;
  if (auto e = split_authority(authority, what, out, port_text)) return *std::move(e);
  out.port = out.tls ? 443 : 80;
  if (!port_text.empty()) {
    unsigned value = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return w + "'s port must be a number from 1 to 65535";
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  out.base_path = std::string(path);
  return out;
}

std::string query_escape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
  return out;
}

}  // namespace lgsp::util
