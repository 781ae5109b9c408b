#pragma once

#include <filesystem>
#include <string>
#include <vector>

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

/// A partner CA that revokes, for revocation and chain-depth tests: a server certificate for
/// "localhost", and three client certificates, `good` and `revoked` issued by the CA and
/// `deep` issued by an intermediate CA under it (its file holds the leaf, then the
/// intermediate, as a client sends them).
struct RevokingPki {
  std::string dir;
  std::string ca_cert;
  std::string server_cert;
  std::string server_key;
  struct Client {
    std::string cert;
    std::string key;
    std::string sha256;  // lower-case hex fingerprint of the leaf
  };
  Client good;
  Client revoked;
  Client deep;
};
RevokingPki make_revoking_pki(const std::filesystem::path& dir);
/// Writes to `out` the CRLs of both CAs (`openssl ca -gencrl`, valid two days): the root's
/// revoking exactly `certs` (certificate files it issued), the intermediate's revoking none.
void write_crl(const RevokingPki& pki, const std::vector<std::string>& certs,
               const std::string& out);

}  // namespace lgsp::testing
