#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "config/config.hpp"
#include "http/problem.hpp"

namespace lgsp::http {

/// What a server does with one complete request. Runs on the connection's strand; may
/// suspend (await the bus). Must not throw on the data path; if it does, the server answers
/// 500 problem+json and keeps the process alive.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual boost::asio::awaitable<Response> handle(Request req) = 0;
};

struct ServerLimits {
  std::size_t body_limit = 64 * 1024;
  std::size_t header_limit = 8 * 1024;
  /// Whole request (headers and body) once its first byte arrived: slow senders are cut.
  std::chrono::milliseconds read_timeout{10000};
  /// Keep-alive connection waiting for the next request.
  std::chrono::milliseconds idle_timeout{60000};
};

/// An HTTP/1.1 listener. Each connection is one coroutine on its own strand.
///
/// Lifecycle: start() binds (throws if it cannot) and accepts on the io_context the caller
/// runs; stop() closes the acceptor, cancels idle reads and lets each connection finish the
/// exchange it is in, then close. Thread-safe: start/stop from any thread.
class Server {
 public:
  Server(boost::asio::io_context& ioc, config::Endpoint endpoint, ServerLimits limits,
         std::shared_ptr<Handler> handler);
  ~Server();

  void start();
  void stop();
  /// The bound port (useful with port 0).
  std::uint16_t port() const { return port_; }

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

  boost::asio::io_context& ioc_;
  config::Endpoint endpoint_;
  ServerLimits limits_;
  std::shared_ptr<Handler> handler_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::shared_ptr<Registry> connections_ = std::make_shared<Registry>();
};

}  // namespace lgsp::http
