#include "app/http_client.hpp"

#include <openssl/ssl.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <charconv>
#include <optional>

#include "observability/metrics.hpp"

namespace lgsp::app {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string GatewayUrl::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) h += ":" + std::to_string(port);
  return h;
}

std::variant<GatewayUrl, std::string> parse_gateway_url(std::string_view url) {
  GatewayUrl out;
  const auto lower_starts = [&](std::string_view prefix) {
    if (url.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(url[i])) != prefix[i]) return false;
    }
    return true;
  };
  if (lower_starts("https://")) {
    out.tls = true;
    url.remove_prefix(8);
  } else if (lower_starts("http://")) {
    url.remove_prefix(7);
  } else {
    return std::string("the gateway URL must start with http:// or https://");
  }
  const auto slash = url.find_first_of("/?#");
  std::string_view authority = url.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : url.substr(slash);
  if (!path.empty() && path.front() != '/') {
    return std::string("the gateway URL must not have a query or fragment");
  }
  if (path.find_first_of("?#") != std::string_view::npos) {
    return std::string("the gateway URL must not have a query or fragment");
  }
  if (authority.find('@') != std::string_view::npos) {
    return std::string(
        "the gateway URL must not hold credentials; pass the API key with --key-file or "
        "LGSP_API_KEY");
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::string("the gateway URL has an unclosed [");
    out.host = std::string(authority.substr(1, close - 1));
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::string("the gateway URL has text after ]");
      port_text = rest.substr(1);
      if (port_text.empty()) return std::string("the gateway URL has an empty port");
    }
  } else {
    const auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return std::string("the gateway URL has an empty port");
    }
  }
  if (out.host.empty()) return std::string("the gateway URL has no host");
  out.port = out.tls ? 443 : 80;
  if (!port_text.empty()) {
    unsigned value = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return std::string("the gateway URL's port must be a number from 1 to 65535");
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

std::string HttpAnswer::header(const std::string& lower_name) const {
  const auto it = headers.find(lower_name);
  return it == headers.end() ? std::string{} : it->second;
}

namespace {

constexpr std::size_t kMaxKeptBody = 8 << 20;
constexpr std::size_t kChunk = std::size_t{64} * 1024;

/// A failed step of one exchange, with what was being done (for the message).
[[noreturn]] void fail(const char* doing, const std::string& where,
                       const boost::system::error_code& ec) {
  // What a retry cannot fix: a certificate that does not verify, a name that does not resolve.
  const bool permanent = ec.category() == asio::error::get_ssl_category() ||
                         ec == asio::error::host_not_found ||
                         ec == asio::error::host_not_found_try_again;
  throw TransportError(std::string(doing) + " " + where + ": " + ec.message(), !permanent);
}

/// Sends `req` and reads the answer; a 2xx body goes to `sink` when there is one.
template <class Stream, class Body>
asio::awaitable<HttpAnswer> exchange(Stream& stream, http::request<Body>& req,
                                     const std::function<void(std::string_view)>* sink,
                                     std::chrono::seconds idle, const std::string& where) {
  auto& socket = beast::get_lowest_layer(stream);
  beast::error_code ec;
  auto tok = asio::redirect_error(asio::use_awaitable, ec);

  http::request_serializer<Body> sr(req);
  beast::error_code write_ec;
  while (!sr.is_done()) {
    socket.expires_after(idle);
    co_await http::async_write_some(stream, sr, tok);
    if (ec) {
      // The gateway may have answered early (401, 413) and closed: read that answer if any.
      write_ec = ec;
      break;
    }
  }

  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);  // the download streams; call() caps what it keeps
  socket.expires_after(idle);
  co_await http::async_read_header(stream, buffer, parser, tok);
  if (ec) {
    fail(write_ec ? "connection dropped while sending to" : "no answer from", where,
         write_ec ? write_ec : ec);
  }

  HttpAnswer answer;
  answer.status = static_cast<int>(parser.get().result_int());
  for (const auto& field : parser.get()) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    answer.headers[name] = std::string(field.value());
  }
  const bool to_sink = sink != nullptr && answer.status >= 200 && answer.status < 300;
  std::array<char, kChunk> chunk{};
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    socket.expires_after(idle);
    co_await http::async_read(stream, buffer, parser, tok);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) fail("connection dropped while receiving from", where, ec);
    const std::size_t n = chunk.size() - parser.get().body().size;
    if (n == 0) continue;
    if (to_sink) {
      (*sink)(std::string_view(chunk.data(), n));
    } else if (answer.body.size() + n <= kMaxKeptBody) {
      answer.body.append(chunk.data(), n);
    } else {
      throw TransportError("the answer from " + where + " is larger than 8 MiB", false);
    }
  }
  co_return answer;
}

}  // namespace

struct HttpClient::Impl {
  std::optional<asio::ssl::context> tls;
  std::chrono::seconds idle{60};

  /// Connects (and shakes hands), runs the exchange, closes: all on a private io_context, so
  /// the caller sees a plain blocking call and every step has its timeout.
  template <class Body>
  HttpAnswer run(const GatewayUrl& url, http::request<Body>& req,
                 const std::function<void(std::string_view)>* sink) {
    const std::string where = url.host_header();
    asio::io_context ioc;
    std::exception_ptr error;
    HttpAnswer result;
    auto body = [&]() -> asio::awaitable<HttpAnswer> {
      beast::error_code ec;
      auto tok = asio::redirect_error(asio::use_awaitable, ec);
      tcp::resolver resolver(ioc);
      const auto endpoints =
          co_await resolver.async_resolve(url.host, std::to_string(url.port), tok);
      if (ec) fail("cannot resolve", where, ec);
      if (!tls) {
        beast::tcp_stream stream(ioc);
        stream.expires_after(idle);
        co_await stream.async_connect(endpoints, tok);
        if (ec) fail("cannot connect to", where, ec);
        HttpAnswer a = co_await exchange(stream, req, sink, idle, where);
        stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        co_return a;
      }
      beast::ssl_stream<beast::tcp_stream> stream(ioc, *tls);
      beast::get_lowest_layer(stream).expires_after(idle);
      co_await beast::get_lowest_layer(stream).async_connect(endpoints, tok);
      if (ec) fail("cannot connect to", where, ec);
      // SNI carries names only (RFC 6066); the certificate is checked against the name or
      // address either way.
      boost::system::error_code not_ip;
      asio::ip::make_address(url.host, not_ip);
      // SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.
      if (not_ip && SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
                             TLSEXT_NAMETYPE_host_name, const_cast<char*>(url.host.c_str())) != 1) {
        throw TransportError("cannot set the TLS server name for " + where, false);
      }
      stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
      co_await stream.async_handshake(asio::ssl::stream_base::client, tok);
      if (ec) fail("TLS handshake failed with", where, ec);
      HttpAnswer a = co_await exchange(stream, req, sink, idle, where);
      // A close_notify is courtesy; the answer is complete already.
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
      co_await stream.async_shutdown(tok);
      co_return a;
    };
    asio::co_spawn(ioc, body(), [&](std::exception_ptr e, HttpAnswer a) {
      error = std::move(e);
      result = std::move(a);
    });
    ioc.run();
    if (error) std::rethrow_exception(error);
    return result;
  }
};

HttpClient::HttpClient(GatewayUrl url, const std::string& ca_file, std::chrono::seconds idle)
    : url_(std::move(url)), impl_(std::make_unique<Impl>()) {
  impl_->idle = idle;
  if (url_.tls) {
    auto& ctx = impl_->tls.emplace(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    if (ca_file.empty()) {
      ctx.set_default_verify_paths();
    } else {
      boost::system::error_code ec;
      ctx.load_verify_file(ca_file, ec);
      if (ec) throw std::runtime_error("cannot load the CA certificates in " + ca_file);
    }
    ctx.set_verify_mode(asio::ssl::verify_peer);
  }
}

HttpClient::~HttpClient() = default;

namespace {

template <class Body>
void prepare(http::request<Body>& req, const GatewayUrl& url, const HttpClient::Headers& headers) {
  req.set(http::field::host, url.host_header());
  req.set(http::field::user_agent, "lgsp/" + std::string(obs::version()));
  req.keep_alive(false);
  for (const auto& [name, value] : headers) req.set(name, value);
}

}  // namespace

HttpAnswer HttpClient::call(std::string_view method, const std::string& target,
                            const Headers& headers, const std::string& body) {
  http::request<http::string_body> req{http::string_to_verb(method), url_.base_path + target, 11};
  prepare(req, url_, headers);
  req.body() = body;
  req.prepare_payload();
  return impl_->run(url_, req, nullptr);
}

HttpAnswer HttpClient::upload(std::string_view method, const std::string& target,
                              const Headers& headers, const std::filesystem::path& file) {
  http::request<http::file_body> req{http::string_to_verb(method), url_.base_path + target, 11};
  prepare(req, url_, headers);
  beast::error_code ec;
  req.body().open(file.c_str(), beast::file_mode::scan, ec);
  if (ec) throw std::runtime_error("cannot read " + file.string() + ": " + ec.message());
  req.prepare_payload();  // Content-Length: the file's size
  return impl_->run(url_, req, nullptr);
}

HttpAnswer HttpClient::download(const std::string& target, const Headers& headers,
                                const std::function<void(std::string_view)>& sink) {
  http::request<http::empty_body> req{http::verb::get, url_.base_path + target, 11};
  prepare(req, url_, headers);
  return impl_->run(url_, req, &sink);
}

}  // namespace lgsp::app
