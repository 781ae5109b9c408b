#include "http/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "http/request_id.hpp"
#include "observability/log.hpp"

namespace lgsp::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

Problem transport_problem(Status status, std::string type, std::string title, std::string detail) {
  Problem p;
  p.status = status;
  p.type = std::move(type);
  p.title = std::move(title);
  p.detail = std::move(detail);
  return p;
}
}  // namespace

struct Server::Connection {
  explicit Connection(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
};

Server::Server(asio::io_context& ioc, config::Endpoint endpoint, ServerLimits limits,
               std::shared_ptr<Handler> handler)
    : ioc_(ioc),
      endpoint_(std::move(endpoint)),
      limits_(limits),
      handler_(std::move(handler)),
      acceptor_(asio::make_strand(ioc)) {}

Server::~Server() { stop(); }

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
      asio::post(conn->stream.get_executor(), [conn] {
        boost::system::error_code ignored;  // the connection may have closed meanwhile
        conn->stream.socket().cancel(ignored);
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
    auto conn = std::make_shared<Connection>(std::move(socket));
    {
      std::lock_guard lock(connections_->mu);
      connections_->open.emplace(conn.get(), conn);
    }
    const auto ex = conn->stream.get_executor();
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

  beast::tcp_stream& stream = conn->stream;
  beast::flat_buffer buffer;
  for (;;) {
    // Wait for the first byte of the next request under the idle timeout.
    if (buffer.size() == 0) {
      stream.expires_after(limits_.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), kNoThrow);
      if (ec) break;  // idle timeout, peer closed, or stop(): nothing to answer
      buffer.commit(n);
    }
    if (stopping_) break;

    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(limits_.body_limit);
    parser.header_limit(static_cast<std::uint32_t>(limits_.header_limit));
    stream.expires_after(limits_.read_timeout);

    auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, kNoThrow);
    (void)n;
    if (!ec && parser.get()[bhttp::field::expect] == "100-continue") {
      bhttp::response<bhttp::empty_body> cont{Status::continue_, 11};
      auto [wec, wn] = co_await bhttp::async_write(stream, cont, kNoThrow);
      (void)wn;
      ec = wec;
    }
    if (!ec && !parser.is_done()) {
      auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, kNoThrow);
      (void)bn;
      ec = bec;
    }
    if (ec) {
      std::optional<Problem> problem;
      if (ec == bhttp::error::body_limit) {
        problem = transport_problem(
            Status::payload_too_large, "payload-too-large", "Request body too large",
            "the body exceeds " + std::to_string(limits_.body_limit) +
                " bytes; send smaller requests (bulk work goes to /v1/batches)");
      } else if (ec == bhttp::error::header_limit) {
        problem =
            transport_problem(Status::request_header_fields_too_large, "headers-too-large",
                              "Request headers too large",
                              "headers exceed " + std::to_string(limits_.header_limit) + " bytes");
      } else if (ec == beast::error::timeout) {
        problem = transport_problem(Status::request_timeout, "request-timeout",
                                    "Request not received in time",
                                    "the request was not complete within " +
                                        std::to_string(limits_.read_timeout.count()) + " ms");
      } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
                 ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        problem = transport_problem(Status::bad_request, "malformed-http", "Malformed HTTP request",
                                    "the request could not be parsed as HTTP/1.1: " + ec.message());
      }
      // Otherwise the peer went away: there is nobody to answer.
      if (problem) {
        auto res = make_problem_response(*problem, new_request_id(), 11, false);
        stream.expires_after(std::chrono::seconds(5));
        co_await bhttp::async_write(stream, res, kNoThrow);
      }
      break;
    }

    Request req = parser.release();
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    // The handler may await the bus for longer than the read timeout.
    stream.expires_never();
    Response res;
    try {
      res = co_await handler_->handle(std::move(req));
    } catch (const std::exception& e) {
      obs::error("http_handler_failed", {{"error", e.what()}});
      Problem p = transport_problem(Status::internal_server_error, "internal", "Internal error",
                                    "the gateway failed to handle the request; it was logged");
      res = make_problem_response(p, new_request_id(), version, keep_alive);
    }
    const bool close = !keep_alive || !res.keep_alive() || stopping_;
    res.keep_alive(!close);
    stream.expires_after(limits_.read_timeout);
    auto [wec, wn] = co_await bhttp::async_write(stream, res, kNoThrow);
    (void)wn;
    if (wec || close) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.socket().close(ignored);
}

}  // namespace lgsp::http
