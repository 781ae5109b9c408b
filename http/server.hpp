#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "config/config.hpp"
#include "http/problem.hpp"

namespace lgsp::http {

/// What the transport learnt about the peer of a connection.
struct PeerInfo {
  bool tls = false;
  bool cert_presented = false;  // the client sent a certificate
  bool cert_verified = false;   // ... and it chains to the configured client CA
  std::string cert_sha256;      // lower-case hex SHA-256 of the DER certificate
  std::string cert_subject;     // RFC 2253 one-line form, e.g. "CN=evn-gw,O=EVN,C=VN"
  std::string address;          // the client's IP address (no port)
  std::string cert_problem{};   // why a presented certificate failed (e.g. "certificate revoked")
};

/// The request line and headers of a request whose body is streamed.
using RequestHead = boost::beast::http::request_header<>;

/// A streamed request body, read piece by piece (chunked transfer coding already removed).
/// The first read answers `Expect: 100-continue`, so a handler that refuses a request from
/// its headers never makes the client send the body. Each read waits at most the server's
/// read timeout for data.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  /// The next piece (valid until the next read); empty once the body is complete. An error
  /// means the client stalled, went away or sent a malformed body.
  virtual boost::asio::awaitable<std::pair<boost::system::error_code, std::string_view>> read() = 0;
  virtual bool done() const = 0;
};

/// An answer whose body may be produced piece by piece: with `next`, the head's status and
/// headers are sent with chunked transfer coding and each piece `next` returns becomes a
/// chunk, until it returns nullopt; without, `head` is sent as is.
struct StreamedResponse {
  Response head;
  /// The next piece of the body (nullopt: the end). A coroutine, so that a piece read from
  /// a store can be read off the connection's thread.
  std::function<boost::asio::awaitable<std::optional<std::string>>()> next;
};

/// What a server does with one complete request. Runs on the connection's strand; may
/// suspend (await the bus). Must not throw on the data path; if it does, the server answers
/// 500 problem+json and keeps the process alive.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual boost::asio::awaitable<Response> handle(Request req, const PeerInfo& peer) = 0;
  /// True for requests to hand to handle_stream() as they arrive instead of buffering the
  /// body under the body limit (bulk uploads and downloads).
  virtual bool streams(const RequestHead& /*head*/) const { return false; }
  /// Handles a streamed request. The handler reads as much of the body as it wants; a body
  /// left unread closes the connection after the answer.
  virtual boost::asio::awaitable<StreamedResponse> handle_stream(RequestHead head, BodyReader& body,
                                                                 const PeerInfo& peer);
};

struct ServerLimits {
  std::size_t body_limit = std::size_t{64} * 1024;
  std::size_t header_limit = std::size_t{8} * 1024;
  /// Whole request (headers and body) once its first byte arrived: slow senders are cut.
  std::chrono::milliseconds read_timeout{10000};
  /// Keep-alive connection waiting for the next request.
  std::chrono::milliseconds idle_timeout{60000};
};

/// A server-side TLS context from config: TLS 1.2+ (or 1.3 only), the configured cipher
/// list, certificate chain and key (with its password when given), and, with a client CA,
/// client certificates requested and checked (the verdict is reported in PeerInfo rather
/// than failing the handshake, so the partner gets a problem+json that says what is wrong).
/// Throws std::runtime_error naming the file or setting that is unusable.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const config::TlsConfig& tls);

/// An HTTP/1.1 listener. Each connection is one coroutine on its own strand.
///
/// Lifecycle: start() binds (throws if it cannot) and accepts on the io_context the caller
/// runs; stop() closes the acceptor, cancels idle reads and lets each connection finish the
/// exchange it is in, then close. Thread-safe: start/stop from any thread.
class Server {
 public:
  /// With `tls`, every connection starts with a TLS handshake (bounded by read_timeout).
  Server(boost::asio::io_context& ioc, config::Endpoint endpoint, ServerLimits limits,
         std::shared_ptr<Handler> handler,
         std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
  ~Server();

  void start();
  void stop();
  /// The bound port (useful with port 0).
  std::uint16_t port() const { return port_; }
  /// Connections accepted from now on use `tls` (new certificates, client CA, revocation
  /// lists); open ones keep theirs. Only for a server started with TLS.
  void set_tls(std::shared_ptr<boost::asio::ssl::context> tls);

 private:
  struct Connection;
  /// Open connections. Shared with each connection's coroutine, which deregisters itself
  /// when it ends, even if that happens while the io_context destroys it after the Server.
  struct Registry {
    std::mutex mu;
    std::unordered_map<Connection*, std::weak_ptr<Connection>> open;
  };
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(std::shared_ptr<Connection> conn,
                                     std::shared_ptr<Registry> registry);
  template <class Stream>
  boost::asio::awaitable<void> exchange_loop(Stream& stream, const PeerInfo& peer);
  /// The problem to answer for a request that could not be read (nullopt: the peer left).
  std::optional<Problem> read_problem(boost::system::error_code ec) const;
  /// A buffered route's body, under the body limit (answering 100-continue first).
  template <class Stream>
  boost::asio::awaitable<boost::system::error_code> read_body(
      Stream& stream, boost::beast::flat_buffer& buffer,
      boost::beast::http::request_parser<boost::beast::http::empty_body>& head,
      std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>>& parser);
  /// The handler's answer to `req`, written; false when the connection must close.
  template <class Stream>
  boost::asio::awaitable<bool> answer(Stream& stream, Request req, const PeerInfo& peer);
  /// A streamed answer's head and body pieces (chunked on HTTP/1.1); true when the
  /// connection must close.
  template <class Stream>
  boost::asio::awaitable<bool> write_chunks(Stream& stream, StreamedResponse& res,
                                            unsigned version);
  /// One exchange on a streaming route; true when the connection must close.
  template <class Stream>
  boost::asio::awaitable<bool> stream_exchange(
      Stream& stream, boost::beast::flat_buffer& buffer,
      boost::beast::http::request_parser<boost::beast::http::empty_body>& head_parser,
      const PeerInfo& peer);

  boost::asio::io_context& ioc_;
  config::Endpoint endpoint_;
  ServerLimits limits_;
  std::shared_ptr<Handler> handler_;
  std::shared_ptr<boost::asio::ssl::context> current_tls() const;
  mutable std::mutex tls_mu_;
  std::shared_ptr<boost::asio::ssl::context> tls_;  // guarded by tls_mu_
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::shared_ptr<Registry> connections_ = std::make_shared<Registry>();
};

}  // namespace lgsp::http
