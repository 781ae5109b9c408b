// Bytes off a connection, as http/server.cpp reads them: Boost.Beast's request_parser with
// the gateway's default limits (body 64 KiB, header 8 KiB), several requests per connection
// (keep-alive / pipelining), the bytes arriving in pieces. Every request that parses goes
// through what gateway/api_handler.cpp runs on it without I/O: route matching,
// parse_request for POSTs to a route, util::media_type and the traceparent handling.
//
// Input: byte 0 picks the size of the pieces the bytes arrive in; the rest is the stream.
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "gateway/routes.hpp"
#include "gateway/validation.hpp"
#include "http/server.hpp"
#include "observability/trace_context.hpp"
#include "util/media_type.hpp"

namespace {

namespace bhttp = boost::beast::http;
namespace gw = lgsp::gateway;

using gw::Route;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

/// What ApiHandler::handle does with a request before it needs the network.
void handle(const lgsp::http::Request& req) {
  const std::string traceparent = lgsp::obs::continue_trace(req[std::string_view("traceparent")]);
  check(lgsp::obs::valid_traceparent(traceparent), "continue_trace returns a valid traceparent");
  (void)req.keep_alive();
  (void)req[bhttp::field::authorization];

  std::string_view target = req.target();
  target = target.substr(0, target.find('?'));
  const Route* route = nullptr;
  for (const auto& r : gw::routes()) {
    if (target == r.path) route = &r;
  }
  if (route == nullptr || req.method() != bhttp::verb::post) return;
  const auto parsed = gw::parse_request(route->registry, route->operation, req.body());
  if (const auto* p = std::get_if<gw::ParsedRequest>(&parsed)) {
    check(p->envelope.registry() == route->registry, "envelope carries the route's registry");
  }
  (void)lgsp::util::is_json(lgsp::util::media_type(req[bhttp::field::content_type]));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // 0 = everything at once (the common case: a whole request in one segment).
  const std::size_t piece = data[0] == 0 ? size : data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const lgsp::http::ServerLimits limits;

  std::string buffer;  // received, not yet consumed: what the server's flat_buffer holds
  for (int exchange = 0; exchange < 8; ++exchange) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(limits.body_limit);
    parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
    parser.eager(true);
    boost::system::error_code ec;
    while (!parser.is_done()) {
      if (!buffer.empty()) {
        const std::size_t used = parser.put(boost::asio::buffer(buffer), ec);
        buffer.erase(0, used);
        if (ec == bhttp::error::need_more) {
          ec = {};
        } else if (ec) {
          return 0;  // the server answers 400/413/431 and closes
        } else if (used > 0) {
          continue;
        }
      }
      if (parser.is_done()) break;
      if (input.empty()) {
        if (parser.got_some()) parser.put_eof(ec);
        if (ec || !parser.is_done()) return 0;  // peer went away mid-request
        break;
      }
      const std::size_t n = std::min(piece, input.size());
      buffer.append(input.substr(0, n));
      input.remove_prefix(n);
    }
    lgsp::http::Request req = parser.release();
    check(req.body().size() <= limits.body_limit, "body within the body limit");
    handle(req);
    if (!req.keep_alive()) return 0;
    if (buffer.empty() && input.empty()) return 0;
  }
  return 0;
}
