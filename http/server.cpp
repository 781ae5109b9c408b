#include "http/server.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <tuple>
#include <variant>

#include "http/request_id.hpp"
#include "observability/log.hpp"
#include "util/hashing.hpp"

namespace lgsp::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

/// A request's read deadline. When it passes, it cancels the socket's pending operations
/// (the read returns operation_aborted) but leaves the socket open, so a 408 can still be
/// written. Runs on the connection's strand; the shared state lets a late timer handler find
/// the read already finished instead of touching a stream (or timer) that may be gone.
///
/// Once passed, it cancels again every 10 ms until finish(): a read whose data had already
/// arrived when the socket was cancelled completes normally, and the composed read then
/// starts another one, which a single cancel would never reach; under a slowloris client
/// that read waited for ever.
class ReadDeadline {
 public:
  ReadDeadline(beast::tcp_stream& stream, std::chrono::milliseconds after)
      : state_(std::make_shared<State>(State{&stream, &timer_})), timer_(stream.get_executor()) {
    timer_.expires_after(after);
    wait(state_);
  }
  ~ReadDeadline() { finish(); }
  ReadDeadline(const ReadDeadline&) = delete;
  ReadDeadline& operator=(const ReadDeadline&) = delete;

  /// Stops the clock; true when the deadline had passed.
  bool finish() {
    state_->stream = nullptr;
    state_->timer = nullptr;
    timer_.cancel();
    return state_->fired;
  }

 private:
  struct State {
    beast::tcp_stream* stream;
    asio::steady_timer* timer;
    bool fired = false;
  };

  static void wait(const std::shared_ptr<State>& state) {
    state->timer->async_wait([state](boost::system::error_code ec) {
      // stream and timer are null once finish() ran (the deadline may be gone).
      if (ec || state->stream == nullptr) return;
      state->fired = true;
      boost::system::error_code ignored;
      state->stream->socket().cancel(ignored);
      state->timer->expires_after(std::chrono::milliseconds(10));
      wait(state);
    });
  }

  std::shared_ptr<State> state_;
  asio::steady_timer timer_;
};
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

Problem internal_problem() {
  return problem(Status::internal_server_error, "internal", "Internal error",
                 "the gateway failed to handle the request; it was logged");
}

/// A streamed body over one connection's stream: Beast's buffer_body parser, fed from the
/// connection's buffer, one piece per read.
template <class Stream>
class StreamBodyReader final : public BodyReader {
 public:
  StreamBodyReader(Stream& stream, beast::flat_buffer& buffer,
                   bhttp::request_parser<bhttp::buffer_body>& parser,
                   std::chrono::milliseconds timeout)
      : stream_(stream), buffer_(buffer), parser_(parser), timeout_(timeout) {}

  asio::awaitable<std::pair<boost::system::error_code, std::string_view>> read() override {
    beast::tcp_stream& lowest = beast::get_lowest_layer(stream_);
    if (!continued_) {
      continued_ = true;
      if (parser_.get()[bhttp::field::expect] == "100-continue" && !parser_.is_done()) {
        bhttp::response<bhttp::empty_body> cont{Status::continue_, 11};
        lowest.expires_after(timeout_);
        auto [wec, wn] = co_await bhttp::async_write(stream_, cont, kNoThrow);
        (void)wn;
        if (wec) co_return std::pair{wec, std::string_view{}};
      }
    }
    if (parser_.is_done()) co_return std::pair{boost::system::error_code{}, std::string_view{}};
    parser_.get().body().data = piece_.data();
    parser_.get().body().size = piece_.size();
    // Cancels the read rather than closing the socket, so a stalled upload can still be
    // answered (408).
    lowest.expires_never();
    ReadDeadline deadline(lowest, timeout_);
    auto [ec, n] = co_await bhttp::async_read(stream_, buffer_, parser_, kNoThrow);
    (void)n;
    if (deadline.finish() && ec) ec = beast::error::timeout;
    if (ec == bhttp::error::need_buffer) ec = {};
    const std::size_t got = piece_.size() - parser_.get().body().size;
    co_return std::pair{ec, std::string_view(piece_.data(), got)};
  }
  bool done() const override { return parser_.is_done(); }

 private:
  Stream& stream_;
  beast::flat_buffer& buffer_;
  bhttp::request_parser<bhttp::buffer_body>& parser_;
  std::chrono::milliseconds timeout_;
  bool continued_ = false;
  std::array<char, 64 * 1024> piece_{};
};

}  // namespace

asio::awaitable<StreamedResponse> Handler::handle_stream(RequestHead head, BodyReader& /*body*/,
                                                         const PeerInfo& /*peer*/) {
  co_return StreamedResponse{
      make_problem_response(internal_problem(), new_request_id(), head.version(), false), {}};
}

namespace {

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

/// What the handshake established about the client's certificate.
/// The remote IP address of `socket`, or "" when it is already gone.
std::string address_of(const tcp::socket& socket) {
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  return ec ? std::string() : remote.address().to_string();
}

PeerInfo peer_of(TlsStream& stream) {
  PeerInfo peer;
  peer.tls = true;
  SSL* ssl = stream.native_handle();
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return peer;
  const std::unique_ptr<X509, decltype(&X509_free)> owned(cert, X509_free);
  peer.cert_presented = true;
  const long verdict = SSL_get_verify_result(ssl);
  peer.cert_verified = verdict == X509_V_OK;
  if (!peer.cert_verified) peer.cert_problem = X509_verify_cert_error_string(verdict);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) == 1) peer.cert_sha256 = util::to_hex(md, len);
  const std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (bio && X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    if (n > 0) peer.cert_subject.assign(data, static_cast<std::size_t>(n));
  }
  return peer;
}

/// Adds every CRL in the PEM file `path` to the context's store and checks client
/// certificates against them (the leaf: CRLs of the CAs that issue partners' certificates).
void load_crls(SSL_CTX* native, const std::string& path) {
  const std::unique_ptr<BIO, decltype(&BIO_free)> in(BIO_new_file(path.c_str(), "r"), BIO_free);
  if (!in) throw std::runtime_error("gateway.tls.client_crl_file: cannot read " + path);
  X509_STORE* store = SSL_CTX_get_cert_store(native);
  int loaded = 0;
  while (X509_CRL* crl = PEM_read_bio_X509_CRL(in.get(), nullptr, nullptr, nullptr)) {
    const int added = X509_STORE_add_crl(store, crl);
    X509_CRL_free(crl);
    if (added != 1) throw std::runtime_error("gateway.tls.client_crl_file: cannot use " + path);
    ++loaded;
  }
  ERR_clear_error();  // the read that ended the loop
  if (loaded == 0) {
    throw std::runtime_error("gateway.tls.client_crl_file: " + path +
                             " holds no PEM certificate revocation list");
  }
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
}

}  // namespace

std::shared_ptr<asio::ssl::context> make_tls_context(const config::TlsConfig& tls) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use |
                   asio::ssl::context::no_compression);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  if (SSL_CTX_set_cipher_list(native, tls.ciphers.c_str()) != 1) {
    throw std::runtime_error("gateway.tls.ciphers: OpenSSL accepts none of \"" + tls.ciphers +
                             "\"");
  }
  if (!tls.key_password.empty()) {
    ctx->set_password_callback(
        [password = tls.key_password](std::size_t, asio::ssl::context::password_purpose) {
          return password;
        });
  }
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(tls.cert_file, ec);
  if (ec) {
    throw std::runtime_error("gateway.tls.cert_file: cannot use " + tls.cert_file + ": " +
                             ec.message());
  }
  ctx->use_private_key_file(tls.key_file, asio::ssl::context::pem, ec);
  if (ec) {
    throw std::runtime_error("gateway.tls.key_file: cannot use " + tls.key_file + ": " +
                             ec.message() + " (wrong password, or not the certificate's key?)");
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    throw std::runtime_error("gateway.tls.key_file: " + tls.key_file +
                             " does not match the certificate in " + tls.cert_file);
  }
  if (!tls.client_ca_file.empty()) {
    ctx->load_verify_file(tls.client_ca_file, ec);
    if (ec) {
      throw std::runtime_error("gateway.tls.client_ca_file: cannot use " + tls.client_ca_file +
                               ": " + ec.message());
    }
    // Tell clients which CA we accept, and ask for (not require) a certificate: partners
    // that use API keys or tokens send none.
    SSL_CTX_set_client_CA_list(native, SSL_load_client_CA_file(tls.client_ca_file.c_str()));
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
    SSL_CTX_set_verify_depth(native, static_cast<int>(tls.client_verify_depth));
    if (!tls.client_crl_file.empty()) load_crls(native, tls.client_crl_file);
  }
  return ctx;
}

struct Server::Connection {
  explicit Connection(tcp::socket s)
      : stream(std::in_place_type<beast::tcp_stream>, std::move(s)) {}
  Connection(tcp::socket s, std::shared_ptr<asio::ssl::context> ctx)
      : tls(std::move(ctx)), stream(std::in_place_type<TlsStream>, std::move(s), *tls) {}
  beast::tcp_stream& lowest() {
    return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); },
                      stream);
  }
  /// The context this connection was accepted under: a reload may replace the server's.
  std::shared_ptr<asio::ssl::context> tls;
  std::variant<beast::tcp_stream, TlsStream> stream;
};

Server::Server(asio::io_context& ioc, config::Endpoint endpoint, ServerLimits limits,
               std::shared_ptr<Handler> handler, std::shared_ptr<asio::ssl::context> tls)
    : ioc_(ioc),
      endpoint_(std::move(endpoint)),
      limits_(limits),
      handler_(std::move(handler)),
      tls_(std::move(tls)),
      acceptor_(asio::make_strand(ioc)) {}

Server::~Server() { stop(); }

std::shared_ptr<asio::ssl::context> Server::current_tls() const {
  std::lock_guard lock(tls_mu_);
  return tls_;
}

void Server::set_tls(std::shared_ptr<asio::ssl::context> tls) {
  std::lock_guard lock(tls_mu_);
  if (!tls_ || !tls) throw std::logic_error("set_tls: a TLS server stays TLS, a plain one plain");
  tls_ = std::move(tls);
}

void Server::start() {
  const auto address =
      asio::ip::make_address(endpoint_.host == "localhost" ? "127.0.0.1" : endpoint_.host);
  const tcp::endpoint ep{address, endpoint_.port};
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  boost::system::error_code ec;
  acceptor_.bind(ep, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + endpoint_.to_string() + ": " + ec.message() +
                             " (is another process using the port?)");
  }
  acceptor_.listen(asio::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

void Server::stop() {
  if (stopping_.exchange(true)) return;
  asio::dispatch(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
  std::lock_guard lock(connections_->mu);
  for (auto& [raw, weak] : connections_->open) {
    if (auto conn = weak.lock()) {
      // Wakes a connection idle in a read; one in the middle of an exchange finishes it
      // and then sees stopping_.
      asio::post(conn->lowest().get_executor(), [conn] {
        boost::system::error_code ignored;  // the connection may have closed meanwhile
        conn->lowest().socket().cancel(ignored);
      });
    }
  }
}

asio::awaitable<void> Server::accept_loop() {
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(ioc_), kNoThrow);
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) break;
      // Out of file descriptors and similar: log, back off briefly, keep serving the others.
      obs::warn("http_accept_failed", {{"error", ec.message()}, {"listen", endpoint_.to_string()}});
      asio::steady_timer t(acceptor_.get_executor(), std::chrono::milliseconds(50));
      co_await t.async_wait(kNoThrow);
      continue;
    }
    boost::system::error_code opt_ec;
    socket.set_option(tcp::no_delay(true), opt_ec);  // best effort; a reset peer fails here
    auto tls = current_tls();
    auto conn = tls ? std::make_shared<Connection>(std::move(socket), std::move(tls))
                    : std::make_shared<Connection>(std::move(socket));
    {
      std::lock_guard lock(connections_->mu);
      connections_->open.emplace(conn.get(), conn);
    }
    const auto ex = conn->lowest().get_executor();
    asio::co_spawn(ex, serve(std::move(conn), connections_), asio::detached);
  }
}

asio::awaitable<void> Server::serve(std::shared_ptr<Connection> conn,
                                    std::shared_ptr<Registry> registry) {
  struct Forget {
    Registry& registry;
    Connection* conn;
    ~Forget() {
      std::lock_guard lock(registry.mu);
      registry.open.erase(conn);
    }
  } forget_on_exit{*registry, conn.get()};

  if (auto* plain = std::get_if<beast::tcp_stream>(&conn->stream)) {
    // Named, not a temporary in the co_await expression: GCC 12 destroys such temporaries
    // twice when the coroutine suspends.
    PeerInfo no_tls;
    no_tls.address = address_of(plain->socket());
    co_await exchange_loop(*plain, no_tls);
    boost::system::error_code ignored;
    plain->socket().shutdown(tcp::socket::shutdown_send, ignored);
    plain->socket().close(ignored);
    co_return;
  }
  auto& tls = std::get<TlsStream>(conn->stream);
  beast::get_lowest_layer(tls).expires_after(limits_.read_timeout);
  auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::server, kNoThrow);
  if (hec) {
    // Plain HTTP to the TLS port, an old protocol version, a scanner: nothing to answer.
    obs::debug("tls_handshake_failed", {{"error", hec.message()}});
  } else {
    PeerInfo peer = peer_of(tls);
    peer.address = address_of(beast::get_lowest_layer(tls).socket());
    co_await exchange_loop(tls, peer);
    beast::get_lowest_layer(tls).expires_after(std::chrono::seconds(2));
    co_await tls.async_shutdown(kNoThrow);
  }
  boost::system::error_code ignored;
  beast::get_lowest_layer(tls).socket().close(ignored);
}

template <class Stream>
asio::awaitable<void> Server::exchange_loop(Stream& stream, const PeerInfo& peer) {
  beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  for (;;) {
    // Wait for the first byte of the next request under the idle timeout.
    if (buffer.size() == 0) {
      lowest.expires_after(limits_.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), kNoThrow);
      if (ec) break;  // idle timeout, peer closed, or stop(): nothing to answer
      buffer.commit(n);
    }
    if (stopping_) break;

    // The head first; the route decides whether its body is buffered (under the body
    // limit) or streamed to the handler.
    bhttp::request_parser<bhttp::empty_body> head_parser;
    head_parser.body_limit(boost::none);
    head_parser.header_limit(static_cast<std::uint32_t>(limits_.header_limit));
    // The read timeout cancels the read rather than closing the socket (as the stream's own
    // timeout would), so the client can still be told 408.
    lowest.expires_never();
    ReadDeadline deadline(lowest, limits_.read_timeout);

    auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, head_parser, kNoThrow);
    (void)n;
    if (!ec && handler_->streams(head_parser.get())) {
      deadline.finish();
      const bool closed = co_await stream_exchange(stream, buffer, head_parser, peer);
      if (closed) break;
      continue;
    }
    std::optional<bhttp::request_parser<bhttp::string_body>> parser;
    if (!ec) ec = co_await read_body(stream, buffer, head_parser, parser);
    // A read the deadline cut short is a timeout; one that completed just as it passed is
    // served.
    if (deadline.finish() && ec) ec = beast::error::timeout;
    if (ec) {
      // Otherwise the peer went away: there is nobody to answer.
      if (auto refusal = read_problem(ec)) {
        auto res = make_problem_response(*refusal, new_request_id(), 11, false);
        lowest.expires_after(std::chrono::seconds(5));
        co_await bhttp::async_write(stream, res, kNoThrow);
      }
      break;
    }
    if (!co_await answer(stream, parser->release(), peer)) break;
  }
}

std::optional<Problem> Server::read_problem(boost::system::error_code ec) const {
  if (ec == bhttp::error::body_limit) {
    return problem(
        Status::payload_too_large, "payload-too-large", "Request body too large",
        "the body exceeds " + std::to_string(limits_.body_limit) + " bytes; send smaller requests");
  }
  if (ec == bhttp::error::header_limit) {
    return problem(Status::request_header_fields_too_large, "headers-too-large",
                   "Request headers too large",
                   "headers exceed " + std::to_string(limits_.header_limit) + " bytes");
  }
  if (ec == beast::error::timeout) {
    return problem(Status::request_timeout, "request-timeout", "Request not received in time",
                   "the request was not complete within " +
                       std::to_string(limits_.read_timeout.count()) + " ms");
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    return problem(Status::bad_request, "malformed-http", "Malformed HTTP request",
                   "the request could not be parsed as HTTP/1.1: " + ec.message());
  }
  return std::nullopt;
}

template <class Stream>
asio::awaitable<boost::system::error_code> Server::read_body(
    Stream& stream, beast::flat_buffer& buffer, bhttp::request_parser<bhttp::empty_body>& head,
    std::optional<bhttp::request_parser<bhttp::string_body>>& parser) {
  const auto length = head.content_length();
  if (length && *length > limits_.body_limit) co_return bhttp::error::body_limit;
  if (head.get()[bhttp::field::expect] == "100-continue") {
    bhttp::response<bhttp::empty_body> cont{Status::continue_, 11};
    auto [ec, n] = co_await bhttp::async_write(stream, cont, kNoThrow);
    (void)n;
    if (ec) co_return ec;
  }
  parser.emplace(std::move(head));
  parser->body_limit(limits_.body_limit);
  if (parser->is_done()) co_return boost::system::error_code{};
  auto [ec, n] = co_await bhttp::async_read(stream, buffer, *parser, kNoThrow);
  (void)n;
  co_return ec;
}

template <class Stream>
asio::awaitable<bool> Server::answer(Stream& stream, Request req, const PeerInfo& peer) {
  beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  // The handler may await the bus for longer than the read timeout.
  lowest.expires_never();
  Response res;
  try {
    res = co_await handler_->handle(std::move(req), peer);
  } catch (const std::exception& e) {
    obs::error("http_handler_failed", {{"error", e.what()}});
    res = make_problem_response(internal_problem(), new_request_id(), version, keep_alive);
  }
  const bool close = !keep_alive || !res.keep_alive() || stopping_;
  res.keep_alive(!close);
  lowest.expires_after(limits_.read_timeout);
  auto [ec, n] = co_await bhttp::async_write(stream, res, kNoThrow);
  (void)n;
  co_return !ec && !close;
}

/// After answering a request whose body was left unread (refused from its headers): read
/// and drop what the client is still sending for a moment before the connection closes, so
/// closing with unread data does not reset the connection and destroy the answer before
/// the client has read it (what nginx calls a lingering close).
template <class Stream>
asio::awaitable<void> linger(Stream& stream, beast::flat_buffer& buffer) {
  beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
  buffer.clear();
  std::size_t drained = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (drained < (8U << 20) && std::chrono::steady_clock::now() < until) {
    lowest.expires_after(std::chrono::milliseconds(500));
    auto [ec, n] =
        co_await stream.async_read_some(buffer.prepare(std::size_t{64} * 1024), kNoThrow);
    if (ec) break;
    drained += n;
    buffer.consume(buffer.size());
  }
}

template <class Stream>
asio::awaitable<bool> Server::stream_exchange(Stream& stream, beast::flat_buffer& buffer,
                                              bhttp::request_parser<bhttp::empty_body>& head_parser,
                                              const PeerInfo& peer) {
  beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
  bhttp::request_parser<bhttp::buffer_body> parser(std::move(head_parser));
  const RequestHead head = parser.get().base();
  const unsigned version = head.version();
  const bool keep_alive = parser.get().keep_alive();
  StreamBodyReader<Stream> body(stream, buffer, parser, limits_.read_timeout);
  StreamedResponse res;
  try {
    res = co_await handler_->handle_stream(head, body, peer);
  } catch (const std::exception& e) {
    obs::error("http_handler_failed", {{"error", e.what()}});
    res = StreamedResponse{
        make_problem_response(internal_problem(), new_request_id(), version, false), {}};
  }
  // A body left unread cannot be skipped safely: answer, then close.
  const bool close = !keep_alive || !res.head.keep_alive() || !body.done() || stopping_;
  res.head.keep_alive(!close);
  res.head.version(version);
  lowest.expires_after(limits_.read_timeout);
  if (!res.next) {
    res.head.prepare_payload();
    auto [wec, wn] = co_await bhttp::async_write(stream, res.head, kNoThrow);
    (void)wn;
    if (!wec && !body.done()) co_await linger(stream, buffer);
    co_return wec || close;
  }
  co_return co_await write_chunks(stream, res, version) || close;
}

template <class Stream>
asio::awaitable<bool> Server::write_chunks(Stream& stream, StreamedResponse& res,
                                           unsigned version) {
  beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
  // Chunked: the head, then one chunk per piece. HTTP/1.0 has no chunks: the body is sent
  // raw and the connection closed to end it.
  bhttp::response<bhttp::empty_body> out(res.head.base());
  const bool chunked = version >= 11;
  if (chunked) {
    out.chunked(true);
  } else {
    out.keep_alive(false);
  }
  bhttp::response_serializer<bhttp::empty_body> serializer(out);
  auto [hec, hn] = co_await bhttp::async_write_header(stream, serializer, kNoThrow);
  (void)hn;
  if (hec) co_return true;
  try {
    for (;;) {
      std::optional<std::string> piece = co_await res.next();
      if (!piece) break;
      if (piece->empty()) continue;
      lowest.expires_after(limits_.read_timeout);
      boost::system::error_code wec;
      if (chunked) {
        std::tie(wec, std::ignore) =
            co_await asio::async_write(stream, bhttp::make_chunk(asio::buffer(*piece)), kNoThrow);
      } else {
        std::tie(wec, std::ignore) =
            co_await asio::async_write(stream, asio::buffer(*piece), kNoThrow);
      }
      if (wec) co_return true;
    }
  } catch (const std::exception& e) {
    // The status is already sent: all that can be done is to cut the body short, which
    // the client sees as a truncated chunked body.
    obs::error("http_stream_failed", {{"error", e.what()}});
    co_return true;
  }
  if (!chunked) co_return true;
  lowest.expires_after(limits_.read_timeout);
  auto [lec, ln] = co_await asio::async_write(stream, bhttp::make_chunk_last(), kNoThrow);
  (void)ln;
  co_return bool(lec);
}

}  // namespace lgsp::http
