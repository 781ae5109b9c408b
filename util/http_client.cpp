#include "util/http_client.hpp"

#include <openssl/ssl.h>

#include <algorithm>
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

namespace lgsp::util {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

std::string HttpAnswer::header(const std::string& lower_name) const {
  const auto it = headers.find(lower_name);
  return it == headers.end() ? std::string{} : it->second;
}

// -------------------------------------------------------------------------------- exchange

namespace {

constexpr std::size_t kChunk = std::size_t{64} * 1024;
using Sink = std::function<void(std::string_view)>;

/// When the next step must be done: its idle timeout, or the call's deadline if sooner.
struct Step {
  std::chrono::milliseconds idle;
  HttpClient::Deadline deadline;
  SteadyClock::time_point expiry() const {
    const auto t = SteadyClock::now() + idle;
    return deadline ? std::min(t, *deadline) : t;
  }
};

/// What one exchange needs besides the stream and the request.
struct Context {
  const std::string& where;  // host:port, for messages (never the target: it may hold an ID)
  Step step;
  std::size_t max_body;
  const Sink* sink;
};

struct Received {
  HttpAnswer answer;
  bool reusable = false;  // the server keeps the connection open and it is in a clean state
};

/// A failed step of one exchange, with what was being done (for the message). `otherwise`
/// is the failure when the error itself does not say more.
[[noreturn]] void fail(const char* doing, const std::string& where,
                       const boost::system::error_code& ec, TransportFailure otherwise) {
  TransportFailure f = otherwise;
  if (ec.category() == asio::error::get_ssl_category()) {
    f = TransportFailure::kTls;
  } else if (ec == asio::error::host_not_found || ec == asio::error::host_not_found_try_again) {
    f = TransportFailure::kResolve;
  } else if (ec == beast::error::timeout) {
    f = TransportFailure::kTimeout;
  }
  // What a retry cannot fix: a certificate that does not verify, a name that does not resolve.
  const bool retryable = f != TransportFailure::kTls && f != TransportFailure::kResolve;
  throw TransportError(std::string(doing) + " " + where + ": " + ec.message(), f, retryable);
}

[[noreturn]] void too_large(const Context& cx) {
  const std::size_t mib = std::size_t{1} << 20;
  const std::string size = cx.max_body % mib == 0 ? std::to_string(cx.max_body / mib) + " MiB"
                                                  : std::to_string(cx.max_body) + " bytes";
  throw TransportError("the answer from " + cx.where + " is larger than " + size,
                       TransportFailure::kTooLarge, false);
}

/// Writes the request; returns the error that stopped it, if any (the server may have
/// answered early, e.g. 401 or 413, and closed: the caller reads that answer if there is one).
template <class Stream, class Body>
asio::awaitable<beast::error_code> send(Stream& stream, http::request<Body>& req,
                                        const Step& step) {
  beast::error_code ec;
  http::request_serializer<Body> sr(req);
  while (!sr.is_done()) {
    beast::get_lowest_layer(stream).expires_at(step.expiry());
    co_await http::async_write_some(stream, sr, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
  }
  co_return ec;
}

/// Reads the body after the header: a 2xx goes to the sink when there is one, anything else
/// is kept in answer.body up to max_body.
template <class Stream>
asio::awaitable<void> read_body(Stream& stream, beast::flat_buffer& buffer,
                                http::response_parser<http::buffer_body>& parser,
                                HttpAnswer& answer, const Context& cx) {
  const bool to_sink = cx.sink != nullptr && answer.status >= 200 && answer.status < 300;
  if (!to_sink && parser.content_length().value_or(0) > cx.max_body) too_large(cx);
  beast::error_code ec;
  std::array<char, kChunk> chunk{};
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    beast::get_lowest_layer(stream).expires_at(cx.step.expiry());
    co_await http::async_read(stream, buffer, parser,
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      fail("connection dropped while receiving from", cx.where, ec, TransportFailure::kTruncated);
    }
    const std::size_t n = chunk.size() - parser.get().body().size;
    if (n == 0) continue;
    if (to_sink) {
      (*cx.sink)(std::string_view(chunk.data(), n));
    } else if (answer.body.size() + n <= cx.max_body) {
      answer.body.append(chunk.data(), n);
    } else {
      too_large(cx);
    }
  }
}

/// Sends `req` and reads the whole answer.
template <class Stream, class Body>
asio::awaitable<Received> exchange_on(Stream& stream, http::request<Body>& req, const Context& cx) {
  const beast::error_code write_ec = co_await send(stream, req, cx.step);
  beast::error_code ec;
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);  // the download streams; read_body caps what it keeps
  beast::get_lowest_layer(stream).expires_at(cx.step.expiry());
  co_await http::async_read_header(stream, buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    fail(write_ec ? "connection dropped while sending to" : "no answer from", cx.where,
         write_ec ? write_ec : ec, TransportFailure::kDropped);
  }
  Received r;
  r.answer.status = static_cast<int>(parser.get().result_int());
  for (const auto& field : parser.get()) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.answer.headers[name] = std::string(field.value());
  }
  r.reusable = !write_ec && parser.get().keep_alive();
  co_await read_body(stream, buffer, parser, r.answer, cx);
  co_return r;
}

bool idempotent(http::verb method) {
  return method == http::verb::get || method == http::verb::head;
}

}  // namespace

// ------------------------------------------------------------------------------ the client

/// Owns the io_context every call runs on and, with keep_alive, the open connection between
/// calls. Each call runs the io_context until its exchange is over, so the caller sees a plain
/// blocking call.
struct HttpClient::Impl {
  HttpUrl url;
  HttpClientOptions opt;
  std::string where;
  std::optional<asio::ssl::context> tls;
  // Declared before the streams: they are destroyed (closed) before it.
  asio::io_context ioc;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;

  bool connected() const { return plain.has_value() || secure.has_value(); }
  /// Closes the connection without ceremony (its state is unknown after a failure).
  void drop() {
    secure.reset();
    plain.reset();
  }

  asio::awaitable<void> connect(const Step& step);
  asio::awaitable<void> close(const Step& step);

  template <class Body>
  asio::awaitable<Received> exchange(http::request<Body>& req, const Sink* sink, const Step& step) {
    const Context cx{where, step, opt.max_body, sink};
    if (secure) co_return co_await exchange_on(*secure, req, cx);
    co_return co_await exchange_on(*plain, req, cx);
  }

  template <class Body>
  asio::awaitable<HttpAnswer> session(http::request<Body>& req, const Sink* sink, Step step) {
    const bool reused = connected();
    if (!reused) co_await connect(step);
    Received r;
    bool again = false;
    try {
      r = co_await exchange(req, sink, step);
    } catch (const TransportError& e) {
      // A server may close an idle kept-alive connection just as we reuse it: a GET that got
      // nothing back is sent once more on a fresh connection.
      if (!reused || e.failure() != TransportFailure::kDropped || !idempotent(req.method())) {
        throw;
      }
      again = true;
    }
    if (again) {
      drop();
      co_await connect(step);
      r = co_await exchange(req, sink, step);
    }
    if (!opt.keep_alive || !r.reusable) co_await close(step);
    co_return std::move(r.answer);
  }

  template <class Body>
  HttpAnswer run(http::request<Body>& req, const Sink* sink, Deadline deadline) {
    std::exception_ptr error;
    HttpAnswer result;
    ioc.restart();
    asio::co_spawn(ioc, session(req, sink, Step{opt.idle_timeout, deadline}),
                   [&](std::exception_ptr e, HttpAnswer a) {
                     error = std::move(e);
                     result = std::move(a);
                   });
    ioc.run();
    if (error) {
      drop();
      std::rethrow_exception(error);
    }
    return result;
  }
};

asio::awaitable<void> HttpClient::Impl::connect(const Step& step) {
  beast::error_code ec;
  auto tok = asio::redirect_error(asio::use_awaitable, ec);
  tcp::resolver resolver(ioc);
  const auto endpoints = co_await resolver.async_resolve(url.host, std::to_string(url.port), tok);
  if (ec) fail("cannot resolve", where, ec, TransportFailure::kResolve);
  if (!tls) {
    auto& stream = plain.emplace(ioc);
    stream.expires_at(step.expiry());
    co_await stream.async_connect(endpoints, tok);
    if (ec) fail("cannot connect to", where, ec, TransportFailure::kConnect);
    co_return;
  }
  auto& stream = secure.emplace(ioc, *tls);
  auto& socket = beast::get_lowest_layer(stream);
  socket.expires_at(step.expiry());
  co_await socket.async_connect(endpoints, tok);
  if (ec) fail("cannot connect to", where, ec, TransportFailure::kConnect);
  // SNI carries names only (RFC 6066); the certificate is checked against the name or
  // address either way.
  boost::system::error_code not_ip;
  asio::ip::make_address(url.host, not_ip);
  // SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.
  if (not_ip && SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
                         TLSEXT_NAMETYPE_host_name, const_cast<char*>(url.host.c_str())) != 1) {
    throw TransportError("cannot set the TLS server name for " + where, TransportFailure::kTls,
                         false);
  }
  stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
  socket.expires_at(step.expiry());
  co_await stream.async_handshake(asio::ssl::stream_base::client, tok);
  if (ec) fail("TLS handshake failed with", where, ec, TransportFailure::kConnect);
}

asio::awaitable<void> HttpClient::Impl::close(const Step& step) {
  beast::error_code ec;
  if (plain) {
    plain->socket().shutdown(tcp::socket::shutdown_both, ec);
  } else if (secure) {
    // A close_notify is courtesy; the answer is complete already.
    const Step courtesy{std::chrono::seconds(2), step.deadline};
    beast::get_lowest_layer(*secure).expires_at(courtesy.expiry());
    co_await secure->async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
  }
  drop();
}

HttpClient::HttpClient(HttpUrl url, HttpClientOptions options)
    : url_(std::move(url)), impl_(std::make_unique<Impl>()) {
  impl_->url = url_;
  impl_->opt = std::move(options);
  impl_->where = url_.host_header();
  if (!url_.tls) return;
  const HttpClientOptions& o = impl_->opt;
  auto& ctx = impl_->tls.emplace(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (o.ca_file.empty()) {
    ctx.set_default_verify_paths();
  } else if (ctx.load_verify_file(o.ca_file, ec); ec) {
    throw std::runtime_error("cannot load the CA certificates in " + o.ca_file);
  }
  ctx.set_verify_mode(asio::ssl::verify_peer);
  if (o.cert_file.empty() != o.key_file.empty()) {
    throw std::runtime_error("a client certificate needs both its certificate and its key file");
  }
  if (o.cert_file.empty()) return;
  if (ctx.use_certificate_chain_file(o.cert_file, ec); ec) {
    throw std::runtime_error("cannot load the client certificate in " + o.cert_file);
  }
  // OpenSSL also checks here that the key belongs to the certificate.
  if (ctx.use_private_key_file(o.key_file, asio::ssl::context::pem, ec); ec) {
    throw std::runtime_error("cannot load the private key in " + o.key_file +
                             " (or it does not match " + o.cert_file + ")");
  }
}

HttpClient::~HttpClient() = default;

namespace {

template <class Body>
void prepare(http::request<Body>& req, const HttpUrl& url, const HttpClientOptions& opt,
             const HttpClient::Headers& headers) {
  req.set(http::field::host, url.host_header());
  req.set(http::field::user_agent, opt.user_agent);
  req.keep_alive(opt.keep_alive);
  for (const auto& [name, value] : headers) req.set(name, value);
}

}  // namespace

HttpAnswer HttpClient::call(std::string_view method, const std::string& target,
                            const Headers& headers, const std::string& body, Deadline deadline) {
  http::request<http::string_body> req{http::string_to_verb(method), url_.base_path + target, 11};
  prepare(req, url_, impl_->opt, headers);
  req.body() = body;
  req.prepare_payload();
  return impl_->run(req, nullptr, deadline);
}

HttpAnswer HttpClient::upload(std::string_view method, const std::string& target,
                              const Headers& headers, const std::filesystem::path& file) {
  http::request<http::file_body> req{http::string_to_verb(method), url_.base_path + target, 11};
  prepare(req, url_, impl_->opt, headers);
  beast::error_code ec;
  req.body().open(file.c_str(), beast::file_mode::scan, ec);
  if (ec) throw std::runtime_error("cannot read " + file.string() + ": " + ec.message());
  req.prepare_payload();  // Content-Length: the file's size
  return impl_->run(req, nullptr, std::nullopt);
}

HttpAnswer HttpClient::download(const std::string& target, const Headers& headers,
                                const std::function<void(std::string_view)>& sink) {
  http::request<http::empty_body> req{http::verb::get, url_.base_path + target, 11};
  prepare(req, url_, impl_->opt, headers);
  return impl_->run(req, &sink, std::nullopt);
}

}  // namespace lgsp::util
