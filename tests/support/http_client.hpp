#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace lgsp::testing {

struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  boost::json::value json() const;
  std::string header(const std::string& lower_name) const;
};

/// One request on a fresh loopback connection (blocking; for tests).
HttpResult http_call(std::uint16_t port, const std::string& method, const std::string& target,
                     const std::string& body = {},
                     const std::map<std::string, std::string>& headers = {});

/// TLS client settings: the CA that issued the server's certificate, and optionally a client
/// certificate and key (mutual TLS).
struct TlsClient {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool max_version_1_1 = false;  // offer only TLS 1.0/1.1 (must be refused)
};

/// One request over TLS on a fresh connection; throws boost::system::system_error when the
/// handshake fails.
HttpResult https_call(std::uint16_t port, const TlsClient& tls, const std::string& method,
                      const std::string& target, const std::string& body = {},
                      const std::map<std::string, std::string>& headers = {});

/// POST JSON with a bearer key (empty key: no Authorization header).
HttpResult post_json(std::uint16_t port, const std::string& target, const std::string& body,
                     const std::string& api_key);

/// The value of one series (its name and labels exactly as exposed, e.g.
/// `lgsp_x_total{registry="population"}`) on the admin port's /metrics; 0 when absent.
double metric_value(std::uint16_t admin_port, const std::string& series);

/// Sends raw bytes and returns everything read until the peer closes or `wait` passes.
std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds wait = std::chrono::milliseconds(3000));

}  // namespace lgsp::testing
