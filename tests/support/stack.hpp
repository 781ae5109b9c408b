#pragma once

#include <boost/json/object.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "audit/writer.hpp"
#include "bus/embedded_cluster.hpp"
#include "config/config.hpp"
#include "connectors/connector.hpp"
#include "domain/citizen.hpp"
#include "gateway/gateway.hpp"
#include "observability/metrics.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"

namespace lgsp::testing {

/// Keys of the partners every test stack configures.
/// ministry: population verify+lookup (full_name, date_of_birth, gender), insurance and
///   vehicle lookups, citizen profile.
/// health: population and insurance lookups, insurance verify, citizen profile; no vehicle scope.
/// police: vehicle verify + lookup.
/// telecom: population verify only, diacritic-insensitive names, partial grades suffice.
inline constexpr const char* kMinistryKey = "test-ministry-key";
inline constexpr const char* kHealthKey = "test-health-key";
inline constexpr const char* kPoliceKey = "test-police-key";
inline constexpr const char* kTelecomKey = "test-telecom-key";
/// registrar: civil-status verify + lookup (kind, event_date, spouse_citizen_id, status).
inline constexpr const char* kRegistrarKey = "test-registrar-key";
/// citizen-app: the citizen's own records: the access log, and consents (stacks with a
/// consents section).
inline constexpr const char* kCitizenAppKey = "test-citizen-app-key";
/// bulk: batch-verify in every registry (stacks with `batches` on).
inline constexpr const char* kBulkKey = "test-bulk-key";

struct StackOptions {
  bool start_connector = true;
  std::int64_t deadline_ms = 3000;
  std::int64_t citizens = 2000;
  std::int64_t body_limit = 8192;
  /// "sqlite", or "postgres" (the server named by LGSP_TEST_PG_DSN; one such stack at a time).
  std::string backend = "sqlite";
  /// librdkafka message.timeout.ms of every producer (0: librdkafka's default, 5 minutes).
  std::int64_t message_timeout_ms = 0;
  /// YAML lines added to the gateway section (indented by two spaces), e.g. a tls block.
  std::string gateway_yaml{};
  /// How long an answer waits for its audit event's acknowledgement before it is refused
  /// (audit.delivery_timeout_ms). Generous by default: on a loaded 2-core CI machine an
  /// ASan build's acknowledgement can take seconds, and a 503 there is not what a test checks.
  std::int64_t audit_delivery_timeout_ms = 10000;
  /// YAML lines added to the audit section (indented by two spaces).
  std::string audit_yaml{};
  /// Further top-level YAML (e.g. an auth section) and further partners (list items).
  std::string extra_yaml{};
  std::string extra_partners{};
  /// Runs the audit writer in the stack (its store: a SQLite file in dir, or the PostgreSQL
  /// server with the "postgres" backend).
  bool audit_writer = true;
  /// Bulk jobs on (a job store in dir), and a partner "bulk" (key kBulkKey) that may submit
  /// population, insurance and vehicle jobs.
  bool batches = false;
  /// With batches: records per chunk and seconds without an answer before a chunk is re-sent.
  std::int64_t chunk_records = 200;
  std::int64_t chunk_timeout_ms = 30000;
  /// Registry name → its settings as a YAML flow mapping, replacing the stack's default for
  /// that registry (e.g. population served by an upstream system).
  std::map<std::string, std::string> registries{};
  /// With batches: further lines of the batches section (indented by two spaces).
  std::string batches_yaml{};
  /// Further lines of the auth section (indented by two spaces), e.g. a jwt block. The stack
  /// always configures auth.citizen (citizen_token() signs for it).
  std::string auth_yaml{};
  /// auth.citizen.daily_reads_per_citizen (high: tests poll access logs).
  std::int64_t citizen_reads_per_day = 100000;
  /// Runs the gateway in-process (off: tests that run gateway processes of their own; then
  /// api_port() and the request helpers must not be used).
  bool start_gateway = true;
  /// Runs the embedded Kafka-protocol cluster as an `lgsp broker` process of its own instead
  /// of in the test process (then `cluster` is null: no fault injection).
  bool broker_process = false;
};

/// The stacks' citizen identity provider (auth.citizen): its issuer and audience.
inline constexpr const char* kCitizenIssuer = "https://citizen-id.test.lgsp";
inline constexpr const char* kCitizenAudience = "lgsp-access-log";

/// An access token of the stacks' citizen identity provider for `citizen_id` (the subject),
/// valid for `lifetime` from `now`; `audience` other than kCitizenAudience to test refusals.
std::string citizen_token(
    const std::string& citizen_id,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now(),
    std::chrono::seconds lifetime = std::chrono::minutes(5),
    const std::string& audience = kCitizenAudience);

/// True when a PostgreSQL server for tests is available (LGSP_TEST_PG_DSN is set).
bool postgres_available();

/// The real stack in-process for integration tests: embedded Kafka-protocol cluster on
/// loopback (real wire protocol), a seeded SQLite registry in a temp dir, the population
/// connector and the gateway on free ports. Unique topic prefix per stack, so stacks never
/// see each other's messages.
class TestStack {
 public:
  explicit TestStack(StackOptions options = {});
  ~TestStack();

  /// Starts one connector per registry (or just `registry`) and waits until each joined.
  void start_connector(const std::string& registry = {});
  void stop_connector(const std::string& registry = {});
  std::uint16_t api_port() const { return gateway->api_port(); }
  std::uint16_t admin_port() const { return gateway->admin_port(); }
  /// Seeded citizens, spread over the registry.
  std::vector<domain::CitizenRecord> subjects(std::int64_t n) const;

  /// The stack's config as a file another process can use: the same registries and topics,
  /// with the embedded cluster's real bootstrap list instead of "embedded".
  std::filesystem::path write_process_config() const;

  /// Writes `new_yaml` over the stack's config file and asks the gateway to reload it;
  /// returns the gateway's answer ("" = took effect).
  std::string reload(const std::string& new_yaml);
  /// Waits (up to 10 s) until the audit writer has appended at least `n` records; returns
  /// how many it has.
  std::int64_t wait_for_audit(std::int64_t n) const;
  std::filesystem::path config_path() const { return dir / "stack.yaml"; }
  /// The citizen app reading `citizen_id`'s access log with that citizen's token; `extra`
  /// members (page_size, page_token) are added to the body.
  HttpResult access_log(const std::string& citizen_id, const boost::json::object& extra = {}) const;

  std::filesystem::path dir;
  std::string yaml;
  config::Config cfg;
  std::unique_ptr<bus::EmbeddedCluster> cluster;
  std::unique_ptr<ChildProcess> broker;
  std::string bootstrap;
  obs::Metrics metrics{"test"};
  std::map<std::string, std::unique_ptr<connectors::Connector>> connectors;
  std::unique_ptr<audit::AuditWriter> audit_writer;
  std::unique_ptr<gateway::Gateway> gateway;
};

}  // namespace lgsp::testing
