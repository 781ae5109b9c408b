#pragma once

#include <filesystem>
#include <string>

namespace lgsp::testing {

/// A throwaway PKI for TLS tests, made with the openssl command line in `dir`: a CA, a server
/// certificate for "localhost" issued by it, a partner client certificate issued by it, and a
/// client certificate from a second, untrusted CA. Paths are PEM files.
struct TestPki {
  std::string ca_cert;
  std::string server_cert;
  std::string server_key;
  std::string client_cert;
  std::string client_key;
  std::string client_sha256;   // lower-case hex fingerprint of client_cert
  std::string client_subject;  // RFC 2253 form
  std::string rogue_cert;      // issued by another CA
  std::string rogue_key;
};

/// Throws std::runtime_error when openssl fails.
TestPki make_test_pki(const std::filesystem::path& dir);

}  // namespace lgsp::testing
