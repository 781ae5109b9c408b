#include "tests/support/pki.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace lgsp::testing {

namespace {

void run(const std::string& command) {
  // Tests only: fixed commands over paths this process created.
  // NOLINTNEXTLINE(cert-env33-c,concurrency-mt-unsafe)
  if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) {
    throw std::runtime_error("openssl failed: " + command);
  }
}

std::string output_of(const std::string& command) {
  std::string out;
  // NOLINTNEXTLINE(cert-env33-c)
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("cannot run " + command);
  char buf[512];
  while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
  pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

/// A CA key and self-signed certificate.
void make_ca(const std::string& base, const std::string& cn) {
  run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj '/CN=" +
      cn + "' -keyout " + base + ".key -out " + base + ".crt");
}

/// A key and a certificate for `subject` issued by the CA at `ca`.
void issue(const std::string& base, const std::string& ca, const std::string& subject,
           const std::string& ext) {
  run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '" + subject +
      "' -keyout " + base + ".key -out " + base + ".csr");
  std::ofstream(base + ".ext") << ext << "\n";
  run("openssl x509 -req -in " + base + ".csr -CA " + ca + ".crt -CAkey " + ca +
      ".key -CAcreateserial -days 2 -extfile " + base + ".ext -out " + base + ".crt");
}

/// "sha256 Fingerprint=AB:CD:..." of a certificate file → "abcd...".
std::string fingerprint(const std::string& cert) {
  std::string fp = output_of("openssl x509 -noout -fingerprint -sha256 -in " + cert);
  fp = fp.substr(fp.find('=') + 1);
  fp.erase(std::remove(fp.begin(), fp.end(), ':'), fp.end());
  std::transform(fp.begin(), fp.end(), fp.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return fp;
}

}  // namespace

TestPki make_test_pki(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const std::string d = dir.string() + "/";
  make_ca(d + "ca", "LGSP test partner CA");
  make_ca(d + "rogue-ca", "Another CA");
  issue(d + "server", d + "ca", "/CN=localhost",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth");
  issue(d + "client", d + "ca", "/C=VN/O=Test Bank/CN=bank-gateway", "extendedKeyUsage=clientAuth");
  issue(d + "rogue", d + "rogue-ca", "/C=VN/O=Test Bank/CN=bank-gateway",
        "extendedKeyUsage=clientAuth");

  TestPki p;
  p.ca_cert = d + "ca.crt";
  p.server_cert = d + "server.crt";
  p.server_key = d + "server.key";
  p.client_cert = d + "client.crt";
  p.client_key = d + "client.key";
  p.rogue_cert = d + "rogue.crt";
  p.rogue_key = d + "rogue.key";
  p.client_sha256 = fingerprint(p.client_cert);
  std::string subject =
      output_of("openssl x509 -noout -subject -nameopt RFC2253 -in " + p.client_cert);
  p.client_subject = subject.substr(subject.find('=') + 1);
  return p;
}

RevokingPki make_revoking_pki(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const std::string d = dir.string() + "/";
  make_ca(d + "ca", "LGSP revoking partner CA");
  issue(d + "server", d + "ca", "/CN=localhost",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth");
  issue(d + "intermediate", d + "ca", "/CN=LGSP partner intermediate CA",
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign");
  const std::string client_ext = "extendedKeyUsage=clientAuth";
  issue(d + "good", d + "ca", "/O=Good Bank/CN=good", client_ext);
  issue(d + "revoked", d + "ca", "/O=Revoked Bank/CN=revoked", client_ext);
  issue(d + "deep-leaf", d + "intermediate", "/O=Deep Bank/CN=deep", client_ext);
  {
    std::ofstream chain(d + "deep.crt");
    chain << std::ifstream(d + "deep-leaf.crt").rdbuf()
          << std::ifstream(d + "intermediate.crt").rdbuf();
  }
  const auto client = [&](const std::string& name, const std::string& leaf) {
    return RevokingPki::Client{d + name + ".crt", d + leaf + ".key",
                               fingerprint(d + leaf + ".crt")};
  };
  return RevokingPki{dir.string(),
                     d + "ca.crt",
                     d + "server.crt",
                     d + "server.key",
                     client("good", "good"),
                     client("revoked", "revoked"),
                     client("deep", "deep-leaf")};
}

void write_crl(const RevokingPki& pki, const std::vector<std::string>& certs,
               const std::string& out) {
  const std::string d = pki.dir + "/";
  std::string pem;
  // One CRL per CA (the root revoking `certs`, the intermediate revoking none), from a fresh
  // database each time so that the list is exactly `certs`.
  for (const std::string& ca : {std::string("ca"), std::string("intermediate")}) {
    std::ofstream(d + ca + "-index.txt", std::ios::trunc).close();
    std::ofstream(d + ca + ".cnf") << "[ca]\ndefault_ca = d\n[d]\ndatabase = " << d << ca
                                   << "-index.txt\ndefault_md = sha256\ndefault_crl_days = 2\n";
    const std::string cmd = "openssl ca -config " + d + ca + ".cnf -keyfile " + d + ca +
                            ".key -cert " + d + ca + ".crt";
    if (ca == "ca") {
      for (const auto& cert : certs) run(cmd + " -revoke " + cert);
    }
    run(cmd + " -gencrl -out " + d + ca + ".crl");
    std::ifstream in(d + ca + ".crl");
    pem.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::ofstream(out, std::ios::trunc) << pem;
}

}  // namespace lgsp::testing
