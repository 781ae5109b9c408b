#include "tests/support/scripted_server.hpp"

#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <sstream>

namespace lgsp::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

ScriptedServer::ScriptedServer(std::function<Reply(const Seen&, int n)> script, const TestPki* pki)
    : script_(std::move(script)), acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
  if (pki != nullptr) {
    tls_.emplace(asio::ssl::context::tls_server);
    tls_->use_certificate_chain_file(pki->server_cert);
    tls_->use_private_key_file(pki->server_key, asio::ssl::context::pem);
  }
  thread_ = std::thread([this] { serve(); });
}

ScriptedServer::~ScriptedServer() {
  stop_ = true;
  beast::error_code ec;
  tcp::socket wake(ioc_);
  wake.connect(acceptor_.local_endpoint(), ec);
  thread_.join();
}

std::vector<Seen> ScriptedServer::seen() const {
  const std::lock_guard lock(mutex_);
  return seen_;
}

void ScriptedServer::serve() {
  for (int n = 0;; ++n) {
    tcp::socket socket(ioc_);
    beast::error_code ec;
    acceptor_.accept(socket, ec);
    if (stop_) return;
    if (ec) continue;
    try {
      if (tls_) {
        asio::ssl::stream<tcp::socket&> stream(socket, *tls_);
        stream.handshake(asio::ssl::stream_base::server);
        answer(stream, n);
        stream.shutdown(ec);
      } else {
        answer(socket, n);
      }
    } catch (const std::exception&) {
      // A client that gave up (e.g. on the certificate) is part of some tests.
    }
  }
}

template <class Stream>
void ScriptedServer::answer(Stream& stream, int n) {
  beast::flat_buffer buffer;
  http::request_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  http::read(stream, buffer, parser);
  Seen s;
  s.method = std::string(parser.get().method_string());
  s.target = std::string(parser.get().target());
  s.body = parser.get().body();
  for (const auto& f : parser.get()) s.headers[std::string(f.name_string())] = f.value();
  {
    const std::lock_guard lock(mutex_);
    seen_.push_back(s);
  }
  auto reply = script_(s, n);
  if (!reply) return;  // dropped
  reply->prepare_payload();
  if (reply->count("X-Test-Break-Off") > 0) {  // send half the answer, then close
    std::ostringstream whole;
    whole << *reply;
    asio::write(stream, asio::buffer(whole.str().substr(0, whole.str().size() / 2)));
    return;
  }
  http::write(stream, *reply);
}

}  // namespace lgsp::testing
