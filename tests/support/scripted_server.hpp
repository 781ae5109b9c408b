#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/pki.hpp"

namespace lgsp::testing {

/// One request a ScriptedServer received.
struct Seen {
  std::string method, target, body;
  std::map<std::string, std::string> headers;  // names as sent
};
/// nullopt: drop the connection without answering.
using Reply = std::optional<boost::beast::http::response<boost::beast::http::string_body>>;

/// An HTTP server on a loopback port standing in for another system (a gateway for the batch
/// commands, a partner's webhook receiver): one request per connection, answered by `script`
/// (plain, or TLS with the test PKI's "localhost" certificate). Records what it was sent. An
/// answer with the header X-Test-Break-Off is cut off halfway.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<Reply(const Seen&, int n)> script,
                          const TestPki* pki = nullptr);
  ~ScriptedServer();
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::vector<Seen> seen() const;

 private:
  void serve();
  template <class Stream>
  void answer(Stream& stream, int n);

  std::function<Reply(const Seen&, int)> script_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::optional<boost::asio::ssl::context> tls_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<Seen> seen_;
  std::thread thread_;
};

}  // namespace lgsp::testing
