#include "config/config.hpp"
#include "util/sealing.hpp"
#include "util/signing.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace lgsp::config {
namespace {

std::vector<std::string> errors_of(const std::string& yaml) {
  try {
    parse_config(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    return e.errors();
  }
  return {};
}

bool any_contains(const std::vector<std::string>& errors, const std::string& needle) {
  for (const auto& e : errors) {
    if (e.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(Config, DefaultsApplyForAnEmptyMapping) {
  const Config c = parse_config("logging: {level: info}\n", "t.yaml");
  EXPECT_EQ(c.kafka.bootstrap, "embedded");
  EXPECT_EQ(c.gateway.listen.port, 8080);
  EXPECT_EQ(c.gateway.request_deadline_ms, 3000);
}

TEST(Config, UnknownKeyNamesFileLineAndKey) {
  const auto errors = errors_of("gateway:\n  listen: 127.0.0.1:8080\n  lisen: 1\n");
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].rfind("test.yaml:3:3: gateway.lisen: unknown key", 0), 0U) << errors[0];
}

TEST(Config, EveryErrorIsReportedAtOnce) {
  const auto errors = errors_of(
      "gateway:\n  threads: many\n  request_deadline_ms: 0\nkafka:\n  reply_partitions: -1\nbogus: "
      "1\n");
  EXPECT_EQ(errors.size(), 4U);
  EXPECT_TRUE(any_contains(errors, "test.yaml:2:12: gateway.threads: expected a whole number"));
  EXPECT_TRUE(any_contains(errors, "test.yaml:3:24: gateway.request_deadline_ms: must be between"));
  EXPECT_TRUE(any_contains(errors, "test.yaml:5:21: kafka.reply_partitions"));
  EXPECT_TRUE(any_contains(errors, "test.yaml:6:1: bogus: unknown key"));
}

// Issue 19 item 13: a real cluster reached in plaintext carried personal data and audit
// events readable on the network; it is refused unless the operator says the network is
// encrypted anyway.
TEST(Config, RemoteKafkaWithoutTlsIsRefused) {
  const auto errors = errors_of(
      "kafka:\n  bootstrap: kafka-0.prod:9092,kafka-1.prod:9092\n  allow_unsealed: true\n");
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_TRUE(any_contains(errors, "test.yaml:2"));
  EXPECT_TRUE(any_contains(errors, "kafka.bootstrap"));
  EXPECT_TRUE(any_contains(errors, "without TLS (security.protocol is plaintext by default)"));
  // A layer that switches back to plaintext is named.
  EXPECT_TRUE(
      any_contains(errors_of("kafka:\n  bootstrap: k:9093\n  properties: {security.protocol: SSL}\n"
                             "  consumer_properties: {security.protocol: sasl_plaintext}\n"),
                   "security.protocol is sasl_plaintext in kafka.consumer_properties"));
}

TEST(Config, RemoteKafkaOverTlsLoopbackOrExplicitPlaintextIsAccepted) {
  const std::string unsealed = "  allow_unsealed: true\n";
  EXPECT_TRUE(
      errors_of("kafka:\n  bootstrap: k:9093\n  properties: {security.protocol: SSL}\n" + unsealed)
          .empty());
  EXPECT_TRUE(
      errors_of("kafka:\n  bootstrap: k:9093\n  properties: {security.protocol: sasl_ssl}\n" +
                unsealed)
          .empty());
  EXPECT_TRUE(
      errors_of("kafka:\n  bootstrap: 127.0.0.1:9092,localhost:9093,[::1]:9094\n" + unsealed)
          .empty());
  const Config c =
      parse_config("kafka:\n  bootstrap: k:9092\n  allow_plaintext: true\n" + unsealed, "t.yaml");
  EXPECT_TRUE(c.kafka.allow_plaintext);
}

// A credential that names two partners makes who a caller is depend on list order (fails
// on 293675d, which took the first).
TEST(Config, OneCredentialInTwoPartnersIsRefused) {
  const std::string hash(64, 'a');
  const auto errors = errors_of("partners:\n  - id: a\n    api_key_sha256: [" + hash +
                                "]\n  - id: b\n    api_key_sha256: [" + hash + "]\n");
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_TRUE(any_contains(errors, "partners[1].api_key_sha256"));
  EXPECT_TRUE(any_contains(errors, "partner \"b\" has a credential of partner \"a\""));
  EXPECT_TRUE(any_contains(errors_of("auth:\n  jwt: {issuer: i, audiences: [a], jwks_file: j}\n"
                                     "partners:\n  - id: a\n    oauth_client_ids: [x]\n"
                                     "  - id: b\n    oauth_client_ids: [x]\n"),
                           "partners[1].oauth_client_ids"));
}

// The citizen identity provider is a provider of its own: every key named, checked.
TEST(Config, CitizenIdentityNamesFileLineAndKey) {
  const auto errors = errors_of(
      "auth:\n  citizen:\n    issuer: https://id.citizen\n    jwks_file: /nonexistent/jwks.json\n"
      "    daily_reads_per_citizen: 0\n    jwks: x\n");
  EXPECT_TRUE(any_contains(errors, "auth.citizen.audiences: required"));
  EXPECT_TRUE(any_contains(errors, "auth.citizen.jwks_file: cannot read /nonexistent/jwks.json"));
  bool named_at_its_line = false;
  for (const auto& e : errors) {
    named_at_its_line =
        named_at_its_line || (e.starts_with("test.yaml:5:") &&
                              e.find("auth.citizen.daily_reads_per_citizen") != std::string::npos);
  }
  EXPECT_TRUE(named_at_its_line);
  EXPECT_TRUE(any_contains(errors, "auth.citizen.jwks"));
}

// Withholding from access logs is bounded, and revocation lists need the CA they revoke for.
TEST(Config, WithholdingIsBoundedAndCrlsNeedTheirCa) {
  EXPECT_TRUE(any_contains(errors_of("partners:\n  - id: police\n    withhold_days: 366\n"),
                           "partners[0].withhold_days"));
  EXPECT_TRUE(errors_of("partners:\n  - id: police\n    withhold_days: 90\n").empty());
  const auto crl = errors_of(
      "gateway:\n  tls: {cert_file: /dev/null, key_file: /dev/null, client_crl_file: /dev/null,"
      " client_verify_depth: 11}\n");
  EXPECT_TRUE(
      any_contains(crl, "gateway.tls.client_crl_file: revocation lists need client_ca_file"));
  EXPECT_TRUE(any_contains(crl, "gateway.tls.client_verify_depth"));
}

// Serving partners beyond loopback without an audit trail is refused (fails on 293675d).
TEST(Config, AuditOffIsOnlyForLoopback) {
  const auto errors = errors_of(
      "gateway:\n  listen: 0.0.0.0:8443\n  tls: {cert_file: c, key_file: k}\n"
      "audit:\n  enabled: false\n");
  EXPECT_TRUE(any_contains(errors, "audit.enabled: false is only allowed while gateway.listen"))
      << (errors.empty() ? "" : errors[0]);
  EXPECT_FALSE(any_contains(errors_of("audit:\n  enabled: false\n"), "audit.enabled"));
}

TEST(Config, BundleSizeDefaultsTo64AndIsBounded) {
  EXPECT_EQ(parse_config("logging: {level: info}\n", "t.yaml").gateway.max_bundle, 64);
  EXPECT_EQ(parse_config("gateway:\n  max_bundle: 1\n", "t.yaml").gateway.max_bundle, 1);
  const auto errors = errors_of("gateway:\n  max_bundle: 0\n");
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].rfind("test.yaml:2:15: gateway.max_bundle: must be between 1 and 1024", 0),
            0U)
      << errors[0];
}

TEST(Config, BulkJobsAreOffWithoutTheirSectionAndTakeDefaultsWithIt) {
  EXPECT_FALSE(parse_config("logging: {level: info}\n", "t.yaml").batches.enabled);
  const Config c =
      parse_config("batches:\n  sqlite_path: run/b.db\n  chunk_records: 50\n", "t.yaml");
  EXPECT_TRUE(c.batches.enabled);
  EXPECT_EQ(c.batches.sqlite_path, "run/b.db");
  EXPECT_EQ(c.batches.chunk_records, 50);
  EXPECT_EQ(c.batches.max_chunks_in_flight, 16);
  EXPECT_EQ(c.batches.max_active_jobs_per_partner, 2);
  EXPECT_FALSE(parse_config("batches: {enabled: false}\n", "t.yaml").batches.enabled);
}

TEST(Config, BulkJobErrorsNameLineAndKey) {
  const auto errors = errors_of("batches:\n  chunk_records: 0\n  max_jobs: 3\n");
  EXPECT_TRUE(any_contains(errors, "test.yaml:2:18: batches.chunk_records: must be between"));
  EXPECT_TRUE(any_contains(errors, "test.yaml:3:3: batches.max_jobs: unknown key"));
  EXPECT_TRUE(any_contains(errors, "batches.sqlite_path: required"));
  // The bulk operations are grantable like any other.
  EXPECT_TRUE(
      errors_of("partners:\n  - id: bank\n    operations: [population.batch-verify]\n").empty());
}

TEST(Config, AClusterKeepsBulkJobsInItsSharedPostgresStore) {
  const Config c = parse_config(
      "cluster:\n  store: {backend: postgres, postgres_dsn: 'host=db dbname=lgsp'}\n"
      "  lease_ms: 5000\nbatches: {chunk_records: 50}\n",
      "t.yaml");
  EXPECT_TRUE(c.cluster.enabled);
  EXPECT_EQ(c.cluster.store.dsn(), "host=db dbname=lgsp");
  EXPECT_EQ(c.cluster.lease_ms, 5000);
  EXPECT_TRUE(c.batches.enabled);
  EXPECT_EQ(c.batches.sqlite_path, "");
  EXPECT_FALSE(parse_config("logging: {level: info}\n", "t.yaml").cluster.enabled);
}

TEST(Config, ClusterErrorsNameLineAndKey) {
  // A per-instance file beside the shared store would be two truths.
  auto errors = errors_of(
      "cluster:\n  store: {backend: postgres, postgres_dsn: 'host=db'}\n"
      "batches:\n  sqlite_path: run/b.db\n");
  EXPECT_TRUE(any_contains(errors, "test.yaml:4:16: batches.sqlite_path: not used with a cluster"));
  errors = errors_of("cluster:\n  store: {backend: sqlite, sqlite_path: x.db}\n  lease_ms: 10\n");
  EXPECT_TRUE(any_contains(errors, "test.yaml:2:10: cluster.store.backend: must be postgres"));
  EXPECT_TRUE(any_contains(errors, "test.yaml:3:13: cluster.lease_ms: must be between 3000"));
  errors = errors_of("cluster:\n  lease_ms: 5000\n");
  EXPECT_TRUE(any_contains(errors, "test.yaml:2:3: cluster.store: required"));
  errors = errors_of(
      "gateway:\n  instance: 2\ncluster:\n  store: {backend: postgres, postgres_dsn: 'host=db'}\n");
  EXPECT_TRUE(any_contains(errors, "test.yaml:2:13: gateway.instance: not used with a cluster"));
  errors = errors_of("cluster:\n  store: {backend: postgres}\n");
  EXPECT_TRUE(any_contains(errors, "cluster.store.postgres_dsn: postgres_dsn, postgres_dsn_file"));
}

// Found by fuzz_config (tests/fuzz/corpus/fuzz_config): each used to escape as a yaml-cpp
// exception without the file name.
TEST(Config, KeyThatIsNotAPlainNameIsAConfigError) {
  const auto errors = errors_of("{[a]: 1}\n");
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_TRUE(any_contains(errors, "test.yaml:1:2: (top level): a key must be a plain name"));
  EXPECT_TRUE(any_contains(errors_of("gateway:\n  {x: 1}: 2\n"), "gateway: a key must be"));
  EXPECT_TRUE(any_contains(errors_of("kafka:\n  properties: {[a]: 1}\n"),
                           "kafka.properties: a property name must be a plain name"));
}

TEST(Config, DuplicateKeysAreRefusedNotSilentlyIgnored) {
  const auto errors = errors_of("gateway:\n  threads: 1\ngateway:\n  threads: 2\n");
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_TRUE(any_contains(errors, "test.yaml:3:1: gateway: duplicate key")) << errors[0];
}

TEST(Config, RepeatedRegistryUnderFieldsIsNamedAtItsOwnEntry) {
  const auto errors = errors_of(
      "partners:\n  - id: a\n    fields:\n      population: [nope]\n      population: x\n");
  EXPECT_TRUE(
      any_contains(errors, "test.yaml:4:20: partners[0].fields.population[0]: unknown field"));
  EXPECT_TRUE(
      any_contains(errors, "test.yaml:5:7: partners[0].fields.population: duplicate registry"));
}

TEST(Config, BadEndpointIsNamed) {
  const auto errors = errors_of("gateway:\n  listen: localhost\n");
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_TRUE(any_contains(errors, "test.yaml:2:11: gateway.listen: expected host:port"));
}

TEST(Config, PartnerHashMustBeSha256Hex) {
  const auto errors = errors_of("partners:\n  - id: a\n    api_key_sha256: [plaintext-key]\n");
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_TRUE(any_contains(errors, "partners[0].api_key_sha256[0]: expected 64 lower-case hex"));
}

TEST(Config, UnknownOperationAndFieldAreNamed) {
  const auto errors = errors_of(
      "partners:\n  - id: a\n    operations: [population.delete]\n    fields:\n      population: "
      "[salary]\n");
  EXPECT_EQ(errors.size(), 2U);
  EXPECT_TRUE(
      any_contains(errors, "partners[0].operations[0]: unknown operation \"population.delete\""));
  EXPECT_TRUE(any_contains(errors, "partners[0].fields.population[0]: unknown field \"salary\""));
}

TEST(Config, DemoPartnerAndPlainHttpRefusedOnNonLoopbackListen) {
  const auto errors =
      errors_of("gateway:\n  listen: 0.0.0.0:8080\npartners:\n  - id: demo\n    demo: true\n");
  ASSERT_EQ(errors.size(), 2U);
  EXPECT_TRUE(any_contains(errors, "partners[0].demo"));
  EXPECT_TRUE(any_contains(errors, "not a loopback address"));
  EXPECT_TRUE(any_contains(errors, "gateway.listen: plain HTTP is only allowed on a loopback"));
}

TEST(Config, DemoPartnerAcceptedOnLoopback) {
  const Config c = parse_config(
      "gateway:\n  listen: 127.0.0.1:8080\npartners:\n  - id: demo\n    demo: true\n", "t");
  ASSERT_EQ(c.partners.size(), 1U);
  EXPECT_TRUE(c.partners[0].demo);
}

TEST(Config, YamlSyntaxErrorHasLine) {
  const auto errors = errors_of("gateway:\n  listen: [unclosed\n");
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_TRUE(any_contains(errors, "YAML syntax")) << errors[0];
  EXPECT_EQ(errors[0].rfind("test.yaml:", 0), 0U);
}

TEST(Config, MissingFileSaysSo) {
  try {
    load_config("/nonexistent/lgsp.yaml");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/lgsp.yaml: cannot open"), std::string::npos);
  }
}

/// A temp directory that is the working directory while it lives (relative paths in a
/// config are relative to where the process runs).
struct InTempDir {
  std::filesystem::path old = std::filesystem::current_path();
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("lgsp-config-test-" + std::to_string(::getpid()));
  InTempDir() {
    std::filesystem::create_directories(dir / "run");
    std::filesystem::current_path(dir);
  }
  ~InTempDir() {
    std::filesystem::current_path(old);
    std::filesystem::remove_all(dir);
  }
};

// Item 11/12 of the trust issue: a cluster other than the embedded one carries sealed
// envelopes unless explicitly allowed not to (fails on 72190d0, which had no such check).
TEST(Config, EnvelopesToARealClusterMustBeSealed) {
  const InTempDir tmp;
  const std::string tls = "  properties: {security.protocol: SSL}\n";
  const auto errors = errors_of("kafka:\n  bootstrap: k:9093\n" + tls);
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_TRUE(any_contains(errors,
                           "test.yaml:2:14: kafka.bootstrap: envelopes to the cluster "
                           "k:9093 would travel unsealed"))
      << errors[0];
  EXPECT_TRUE(any_contains(errors_of("kafka:\n  bootstrap: 127.0.0.1:9092\n"), "unsealed"))
      << "loopback too: any local process could write to it";
  EXPECT_TRUE(errors_of("kafka:\n  bootstrap: embedded\n").empty());

  util::write_seal_key("keys", "population", "20261201");
  util::write_seal_key("keys", "population", "20270101");
  const Config c = parse_config("kafka:\n  bootstrap: k:9093\n" + tls +
                                    "  envelope_keys_dir: keys\n"
                                    "  envelope_seal_keys: {population: '20261201'}\n",
                                "t.yaml");
  EXPECT_EQ(c.kafka.envelope_keys.at("population").size(), 2U);
  EXPECT_EQ(c.kafka.envelope_seal_keys.at("population"), "20261201");
  EXPECT_TRUE(any_contains(errors_of("kafka:\n  envelope_keys_dir: keys\n"
                                     "  envelope_seal_keys: {population: '2025'}\n"),
                           "test.yaml:3:23: kafka.envelope_seal_keys: no key population.2025"));
  EXPECT_TRUE(any_contains(errors_of("kafka:\n  envelope_keys_dir: nokeys\n"),
                           "test.yaml:2:22: kafka.envelope_keys_dir: nokeys is not a readable"));
  std::ofstream("keys/vehicle.1") << "not base64 of 32 bytes\n";
  EXPECT_TRUE(any_contains(errors_of("kafka:\n  envelope_keys_dir: keys\n"), "keys/vehicle.1"));
}

TEST(Config, ShippedDevProfileLoads) {
  const InTempDir tmp;
  std::ofstream("run/audit-subject.key") << std::string(64, 'k') << "\n";
  for (const char* domain : {"population", "insurance", "vehicle", "civil-status", "audit"})
    util::write_seal_key("run/bus-keys", domain, "20261201");
  util::write_ed25519_key_pair("run/audit-signing.pem", "run/audit-signing.pub.pem");
  std::filesystem::create_directories("run/citizen-idp");
  std::ofstream("run/citizen-idp/jwks.json") << R"({"keys":[]})";
  const Config c = load_config(std::string(LGSP_SOURCE_DIR) + "/config/dev.yaml");
  EXPECT_EQ(c.gateway.listen.to_string(), "127.0.0.1:8080");
  EXPECT_EQ(c.gateway.admin_listen.to_string(), "127.0.0.1:9464");
  EXPECT_EQ(c.partners.size(), 6U);
  // Credit scoring needs the citizen's consent, recorded through the citizen app.
  EXPECT_TRUE(c.consents.enabled);
  EXPECT_EQ(c.consents.purposes, std::set<std::string>{"credit-scoring"});
  EXPECT_EQ(c.consents.store.sqlite_path, "run/consents.db");
  EXPECT_TRUE(c.registries.contains("population"));
  // The birth and death procedures, their civil-status steps through the ministry's own
  // system; the change feed, read by the electricity company.
  EXPECT_EQ(c.procedures.definitions.at("birth-registration").steps.size(), 3U);
  EXPECT_EQ(c.procedures.definitions.at("death-registration").steps.size(), 3U);
  EXPECT_EQ(c.registries.at("civil-status").upstream.commands.size(), 4U);
  EXPECT_TRUE(c.changes.enabled);
  EXPECT_EQ(c.partners.at(3).changes.at("civil-status.record-death"),
            std::set<std::string>{"date_of_death"});
  EXPECT_EQ(c.audit.subject_key, std::string(64, 'k'));  // trailing newline dropped
  EXPECT_EQ(c.audit.store.sqlite_path, "run/audit.db");
  EXPECT_EQ(c.kafka.envelope_keys.size(), 5U);
  EXPECT_NE(c.audit.signing_key.find("PRIVATE KEY"), std::string::npos);
  EXPECT_NE(c.audit.verify_key.find("PUBLIC KEY"), std::string::npos);
  EXPECT_EQ(c.auth.citizen.tokens.jwks_file, "run/citizen-idp/jwks.json");
  EXPECT_EQ(c.auth.citizen.daily_reads_per_citizen, 50);
}

TEST(Config, AuditSigningKeysMustBeEd25519Keys) {
  const InTempDir tmp;
  std::ofstream("not-a-key.pem")
      << "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  util::write_ed25519_key_pair("good.pem", "good.pub.pem");
  auto errors =
      errors_of("audit:\n  signing_key_file: not-a-key.pem\n  verify_key_file: good.pem\n");
  EXPECT_TRUE(
      any_contains(errors, "test.yaml:2:21: audit.signing_key_file: not an Ed25519 private key"))
      << (errors.empty() ? "" : errors[0]);
  EXPECT_TRUE(any_contains(
      errors, "test.yaml:3:20: audit.verify_key_file: not an Ed25519 public key in PEM"))
      << "a private key where the public one belongs";
  errors = errors_of("audit:\n  signing_key_file: good.pem\n  verify_key_file: good.pub.pem\n");
  EXPECT_FALSE(any_contains(errors, "signing_key")) << (errors.empty() ? "" : errors[0]);
}

TEST(Config, SecretFileMissingIsNamedOnce) {
  const InTempDir tmp;
  const auto errors = errors_of(
      "audit:\n  subject_key_file: run/nope.key\n  store: {backend: sqlite, sqlite_path: a.db}\n");
  ASSERT_EQ(errors.size(), 1U) << errors[0];
  EXPECT_TRUE(
      any_contains(errors, "test.yaml:2:21: audit.subject_key_file: cannot read run/nope.key"));
}

TEST(Config, SecretFromEnvironmentVariable) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe)
  ::setenv("LGSP_TEST_SUBJECT_KEY", "0123456789abcdef0123456789abcdef-from-env", 1);
  const Config c = parse_config(
      "audit:\n  subject_key_env: LGSP_TEST_SUBJECT_KEY\n  store: {backend: sqlite, sqlite_path: "
      "a.db}\n",
      "t");
  EXPECT_EQ(c.audit.subject_key, "0123456789abcdef0123456789abcdef-from-env");
  const auto errors = errors_of("audit:\n  subject_key_env: LGSP_TEST_NOT_SET_ANYWHERE\n");
  EXPECT_TRUE(any_contains(errors, "environment variable LGSP_TEST_NOT_SET_ANYWHERE is not set"));
}

TEST(Config, ShortSubjectKeyIsRefused) {
  const InTempDir tmp;
  std::ofstream("run/short.key") << "short";
  const auto errors = errors_of(
      "audit:\n  subject_key_file: run/short.key\n  store: {backend: sqlite, sqlite_path: a.db}\n");
  EXPECT_TRUE(any_contains(errors, "at least 32 characters"));
}

TEST(Config, TlsSettingsAreChecked) {
  const auto errors = errors_of(
      "gateway:\n  tls:\n    cert_file: /nonexistent/server.crt\n    min_version: '1.1'\n");
  EXPECT_TRUE(any_contains(errors, "gateway.tls.min_version: expected \"1.2\" or \"1.3\""));
  EXPECT_TRUE(any_contains(errors, "gateway.tls.key_file: required"));
  EXPECT_TRUE(any_contains(errors, "gateway.tls.cert_file: cannot read /nonexistent/server.crt"));
}

TEST(Config, PartnerSecurityKeysAreParsedAndNormalised) {
  const InTempDir tmp;
  std::ofstream("ca.pem") << "x";
  const Config c = parse_config(
      "gateway:\n  tls: {cert_file: ca.pem, key_file: ca.pem, client_ca_file: ca.pem}\n"
      "partners:\n  - id: bank\n    client_cert_sha256: ['" +
          std::string(31, 'A') + ":" + std::string(33, 'B') +
          "']\n    purposes: [credit-check]\n"
          "    rate_limit: {requests_per_second: 50}\n"
          "    operation_limits: {population.lookup: {requests_per_second: 5, burst: 10}}\n"
          "    daily_quota: 1000\n",
      "t");
  const auto& p = c.partners.at(0);
  EXPECT_EQ(p.client_cert_sha256.at(0), std::string(31, 'a') + std::string(33, 'b'));
  EXPECT_TRUE(p.purposes.contains("credit-check"));
  EXPECT_EQ(p.rate_limit.requests_per_second, 50);
  EXPECT_EQ(p.rate_limit.burst, 50);  // defaults to one second's worth
  EXPECT_EQ(p.operation_limits.at("population.lookup").burst, 10);
  EXPECT_EQ(p.daily_quota, 1000);
}

TEST(Config, CertificatesAndTokensNeedTheirTrustAnchors) {
  const auto errors = errors_of(
      "partners:\n  - id: a\n    client_cert_subjects: ['CN=a']\n    oauth_client_ids: [a]\n"
      "    operation_limits: {population.delete: {requests_per_second: 1}}\n");
  EXPECT_TRUE(any_contains(errors, "need gateway.tls.client_ca_file"));
  EXPECT_TRUE(any_contains(errors, "need auth.jwt"));
  EXPECT_TRUE(any_contains(errors, "operation_limits.population.delete: unknown operation"));
}

TEST(Config, ApiKeyHashesFromAFile) {
  const InTempDir tmp;
  std::ofstream("keys") << "# rotated 2026-11\n"
                        << std::string(64, 'a') << "  # current\n\n"
                        << "not-a-hash\n";
  const auto errors = errors_of("partners:\n  - id: a\n    api_key_sha256_file: keys\n");
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_TRUE(any_contains(errors, "keys line 4: expected 64 lower-case hex digits"));
}

}  // namespace
}  // namespace lgsp::config

namespace lgsp::config {
namespace {

constexpr const char* kRegistries =
    "registries:\n"
    "  population: {backend: sqlite, sqlite_path: p.db}\n"
    "  civil-status: {backend: sqlite, sqlite_path: c.db}\n";

std::string procedure(const std::string& steps) {
  return std::string(kRegistries) +
         "procedures:\n"
         "  sqlite_path: procedures.db\n"
         "  definitions:\n"
         "    birth:\n"
         "      title: a birth\n"
         "      steps:\n" +
         steps;
}

constexpr const char* kCitizenStep =
    "        - name: citizen\n"
    "          registry: population\n"
    "          command: register-newborn\n"
    "          args: {full_name: input.name, date_of_birth: input.dob, gender: input.gender,\n"
    "                 birth_province_code: input.province_code, place_of_origin: input.origin,\n"
    "                 province: input.province, district: input.district,\n"
    "                 commune: input.commune}\n";

TEST(ConfigProcedures, AProcedureTakesItsInputFromItsStepsArguments) {
  const Config c = parse_config(
      procedure(std::string(kCitizenStep) +
                "        - name: birth\n"
                "          registry: civil-status\n"
                "          command: record-birth\n"
                "          args: {citizen_id: citizen.citizen_id, date_of_birth: input.dob,\n"
                "                 place_of_registration: input.place}\n") +
          "partners:\n  - id: commune\n    operations: [procedure.birth]\n",
      "t.yaml");
  const auto& def = c.procedures.definitions.at("birth");
  ASSERT_EQ(def.steps.size(), 2U);
  EXPECT_EQ(def.input.size(), 9U);  // dob feeds two arguments of the same kind: once
  EXPECT_EQ(def.input.at("dob"), registries::ArgKind::kDate);
  EXPECT_EQ(def.input.at("name"), registries::ArgKind::kName);
  EXPECT_TRUE(c.partners.at(0).operations.contains("procedure.birth"));
}

TEST(ConfigProcedures, EveryMistakeInADefinitionNamesLineAndKey) {
  const auto errors = errors_of(procedure(
      std::string(kCitizenStep) +
      "        - name: birth\n"
      "          registry: civil-status\n"
      "          command: record-adoption\n"  // no such command
      "          args: {}\n"
      "        - name: late\n"
      "          registry: civil-status\n"
      "          command: record-birth\n"
      "          args: {citizen_id: later.citizen_id, date_of_birth: input.name,\n"
      "                 place_of_registration: citizen.place, colour: input.x}\n"
      "        - name: card\n"
      "          registry: insurance\n"  // not configured under registries
      "          command: issue-child-card\n"
      "          args: {citizen_id: citizen.citizen_id, date_of_birth: input.dob,\n"
      "                 hospital_province: input.province, hospital_facility_code: input.h}\n"));
  for (const std::string needle :
       {"test.yaml:19:20: procedures.definitions.birth.steps[1].command: the civil-status "
        "registry has no command \"record-adoption\"",
        "procedures.definitions.birth.steps[2].args.citizen_id: \"later\" is neither input nor "
        "an earlier step",
        "steps[2].args.date_of_birth: input.name feeds a date here but a name elsewhere",
        "steps[2].args.place_of_registration: step citizen's command has no result member place",
        "steps[2].args.colour: not an argument of command record-birth",
        "steps[3].registry: registry \"insurance\" is not under registries"}) {
    EXPECT_TRUE(any_contains(errors, needle)) << needle << "\n" << ::testing::PrintToString(errors);
  }
  EXPECT_TRUE(any_contains(errors_of(std::string(kRegistries) +
                                     "partners:\n  - id: a\n    operations: [procedure.nope]\n"),
                           "unknown operation \"procedure.nope\""));
}

}  // namespace
}  // namespace lgsp::config

namespace lgsp::config {
namespace {

TEST(ConfigProcedures, AStepNeedsABackendThatTakesItsCommandAndItsUndo) {
  const std::string upstream =
      "registries:\n"
      "  population: {backend: sqlite, sqlite_path: p.db}\n"
      "  civil-status:\n"
      "    backend: upstream\n"
      "    upstream:\n"
      "      base_url: http://127.0.0.1:8091\n"
      "      paths: {citizen_id: \"/api/v1/ho-tich/{value}\"}\n"
      "      records: /data/dangKy\n"
      "      fields: {registration_number: /so, kind: /loai, event_date: /ngay}\n"
      "      commands: {record-birth: /api/khai-sinh, adopt: /api/nhan-nuoi}\n";
  const std::string steps =
      "procedures:\n"
      "  sqlite_path: procedures.db\n"
      "  definitions:\n"
      "    birth:\n"
      "      title: a birth\n"
      "      steps:\n"
      "        - name: birth\n"
      "          registry: civil-status\n"
      "          command: record-birth\n"
      "          args: {citizen_id: input.id, date_of_birth: input.dob,\n"
      "                 place_of_registration: input.place}\n";
  const auto errors = errors_of(upstream + steps);
  EXPECT_TRUE(any_contains(errors,
                           "registries.civil-status.upstream.commands.adopt: not a command of "
                           "this registry (record-birth, void-birth, record-death, void-death)"))
      << ::testing::PrintToString(errors);
  EXPECT_TRUE(
      any_contains(errors,
                   "steps[0].command: the civil-status registry is served by an upstream "
                   "system: map void-birth under registries.civil-status.upstream.commands"))
      << ::testing::PrintToString(errors);
}

TEST(ConfigChanges, GrantsNameAKindOfChangeAndMembersOfItsData) {
  const Config c = parse_config(
      "changes: {sqlite_path: /tmp/changes.db, retention_hours: 48}\n"
      "partners:\n  - id: power\n    changes:\n"
      "      civil-status.record-death: [date_of_death]\n"
      "      population.deregister-residence: []\n",
      "t.yaml");
  EXPECT_TRUE(c.changes.enabled);
  EXPECT_EQ(c.changes.retention_hours, 48);
  EXPECT_EQ(c.partners.at(0).changes.size(), 2U);
  EXPECT_TRUE(c.partners.at(0).changes.at("population.deregister-residence").empty());

  const auto errors = errors_of(
      "changes: {sqlite_path: /tmp/changes.db, max_wait_s: 500}\n"
      "partners:\n  - id: power\n    changes:\n"
      "      civil-status.record-adoption: []\n"
      "      civil-status.record-death: [date_of_death, citizen_id, cause_of_death]\n");
  for (const std::string needle :
       {"test.yaml:1:", "changes.max_wait_s",
        "test.yaml:5:7: partners[0].changes.civil-status.record-adoption: unknown kind of change",
        "partners[0].changes.civil-status.record-death[1]: citizen_id comes with every change",
        "partners[0].changes.civil-status.record-death[2]: \"cause_of_death\" is not an argument "
        "or result of civil-status.record-death"}) {
    EXPECT_TRUE(any_contains(errors, needle)) << needle << "\n" << ::testing::PrintToString(errors);
  }
  // A grant without the feed itself.
  EXPECT_TRUE(any_contains(
      errors_of("partners:\n  - id: power\n    changes: {civil-status.record-death: []}\n"),
      "partners[0].changes: change feed grants need the changes section"));
}

TEST(ConfigChanges, AWebhookIsHttpsSignedAndMadeForOneOfThePartnersPurposes) {
  ::setenv("LGSP_TEST_HOOK_SECRET", "a-webhook-secret-of-at-least-32-characters", 1);
  ::setenv("LGSP_TEST_SHORT_SECRET", "short", 1);
  const std::string partner =
      "changes: {sqlite_path: /tmp/changes.db}\n"
      "partners:\n  - id: power\n    purposes: [account-closure]\n"
      "    changes: {civil-status.record-death: [date_of_death]}\n    webhook:\n";
  const Config c = parse_config(partner +
                                    "      url: https://hooks.power.example/lgsp\n"
                                    "      secret_env: LGSP_TEST_HOOK_SECRET\n"
                                    "      purpose: account-closure\n",
                                "t.yaml");
  EXPECT_EQ(c.partners.at(0).webhook.url, "https://hooks.power.example/lgsp");
  EXPECT_EQ(c.partners.at(0).webhook.secret, "a-webhook-secret-of-at-least-32-characters");

  const auto errors = errors_of(partner +
                                "      url: http://hooks.power.example/lgsp\n"
                                "      secret_env: LGSP_TEST_SHORT_SECRET\n"
                                "      purpose: marketing\n");
  for (const std::string needle :
       {"test.yaml:7:12: partners[0].webhook.url: must be https",
        "partners[0].webhook.secret_file: required: a shared secret of at least 32 characters",
        "test.yaml:9:16: partners[0].webhook.purpose: not one of the partner's purposes"}) {
    EXPECT_TRUE(any_contains(errors, needle)) << needle << "\n" << ::testing::PrintToString(errors);
  }
  // Replicas would each deliver every change.
  EXPECT_TRUE(any_contains(
      errors_of("cluster:\n  store: {backend: postgres, postgres_dsn: 'host=db'}\n" + partner +
                "      url: https://hooks.power.example/lgsp\n"
                "      secret_env: LGSP_TEST_HOOK_SECRET\n      purpose: account-closure\n"),
      "partners[0].webhook: not with a cluster section"));
}

TEST(ConfigRegistries, AConnectorEntryOnlyNamesARegistryServedElsewhere) {
  // A gateway's config: the registries it routes to, without how to reach them.
  const Config c = parse_config(
      "registries:\n  population: {backend: connector}\n  insurance: {backend: connector}\n",
      "t.yaml");
  EXPECT_EQ(c.registries.at("population").backend, "connector");
  EXPECT_EQ(c.registries.size(), 2U);
  EXPECT_TRUE(any_contains(
      errors_of("registries:\n  population: {backend: connector, sqlite_path: p.db}\n"),
      "registries.population.sqlite_path"));
  // A procedure step needs the registry's real backend: the gateway checks it takes commands.
  EXPECT_TRUE(any_contains(
      errors_of(std::string("registries:\n  population: {backend: connector}\n") +
                "procedures:\n  sqlite_path: p.db\n  definitions:\n    newborn:\n      steps:\n"
                "        - {name: citizen, registry: population, command: register-newborn,\n"
                "           args: {full_name: input.a, date_of_birth: input.b, gender: input.c,\n"
                "                  birth_province_code: input.d, place_of_origin: input.e,\n"
                "                  province: input.f, district: input.g, commune: input.h}}\n"),
      "is named with backend connector: name its real backend here"));
}

TEST(ConfigConsents, PurposesAStoreAndTheAuditTrail) {
  const Config c = parse_config(
      "consents:\n  store: {backend: sqlite, sqlite_path: /tmp/consents.db}\n"
      "  purposes: [credit-scoring, health-claim]\n  max_days: 90\n",
      "t.yaml");
  EXPECT_TRUE(c.consents.enabled);
  EXPECT_EQ(c.consents.purposes, (std::set<std::string>{"credit-scoring", "health-claim"}));
  EXPECT_EQ(c.consents.max_days, 90);

  for (const auto& [yaml, needle] : std::vector<std::pair<std::string, std::string>>{
           {"consents: {purposes: [credit-scoring]}\n",
            "test.yaml:1:11: consents.store: required: where consents are kept"},
           {"consents:\n  store: {backend: sqlite, sqlite_path: c.db}\n  purposes: ['']\n",
            "test.yaml:3:14: consents.purposes: a purpose is 1 to 200 bytes"},
           {"consents:\n  store: {backend: sqlite, sqlite_path: c.db}\n  max_days: 0\n",
            "consents.max_days"},
           {"consents:\n  store: {backend: sqlite, sqlite_path: c.db}\n  purpose: [x]\n",
            "consents.purpose"},
           {"audit: {enabled: false}\nconsents:\n  store: {backend: sqlite, sqlite_path: c.db}\n",
            "consents: needs the audit trail"},
           // Replicas must share one store: a revocation holds at every one of them.
           {"cluster:\n  store: {backend: postgres, postgres_dsn: 'host=db'}\n"
            "consents:\n  store: {backend: sqlite, sqlite_path: c.db}\n",
            "test.yaml:4:10: consents.store.backend: must be postgres with a cluster section"},
       }) {
    EXPECT_TRUE(any_contains(errors_of(yaml), needle)) << needle << "\n"
                                                       << ::testing::PrintToString(errors_of(yaml));
  }
}

}  // namespace
}  // namespace lgsp::config
