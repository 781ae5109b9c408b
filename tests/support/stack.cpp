#include "tests/support/stack.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "app/commands.hpp"
#include "bus/client_properties.hpp"
#include "bus/envelope.hpp"
#include "observability/log.hpp"
#include "registries/population/store.hpp"
#include "seed/seeder.hpp"
#include "tests/support/jwt_signer.hpp"
#include "util/hashing.hpp"
#include "util/sealing.hpp"
#include "util/signing.hpp"

namespace lgsp::testing {

namespace {
std::atomic<int> g_counter{0};

/// The bootstrap list an `lgsp broker` process writes once its topics exist (up to 20 s).
std::string wait_for_bootstrap(const std::filesystem::path& file) {
  for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(std::chrono::milliseconds(20))) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    const std::string line = text.str();
    if (!line.empty() && line.back() == '\n') return line.substr(0, line.size() - 1);
  }
  throw std::runtime_error("lgsp broker wrote no bootstrap list to " + file.string());
}

/// One citizen identity provider for every stack of the process (its RSA key takes ~0.1 s).
const TestIssuer& citizen_issuer() {
  static const TestIssuer issuer("citizen-rsa", "citizen-ec");
  return issuer;
}
}  // namespace

std::string citizen_token(const std::string& citizen_id, std::chrono::system_clock::time_point now,
                          std::chrono::seconds lifetime, const std::string& audience) {
  auto claims = access_token_claims(kCitizenIssuer, audience, "citizen-app", now, lifetime);
  claims["sub"] = citizen_id;
  return citizen_issuer().sign("ES256", claims);
}

TestStack::TestStack(StackOptions options) {
  const int n = g_counter++;
  dir = std::filesystem::temp_directory_path() /
        ("lgsp-it-" + std::to_string(::getpid()) + "-" + std::to_string(n));
  std::filesystem::create_directories(dir);
  const std::string prefix = "t" + std::to_string(::getpid()) + "n" + std::to_string(n);
  // The profile under test: loopback on free ports, a unique topic prefix, registries in
  // the temp dir, and four partners with different scopes (see stack.hpp).
  yaml = R"(
kafka:
  bootstrap: embedded
  bootstrap_file: @DIR@/kafka-bootstrap.txt
  topic_prefix: @PREFIX@
  request_partitions: 4
  reply_partitions: 2
  envelope_keys_dir: @DIR@/bus-keys
  producer_properties: {linger.ms: '1'@PRODUCER_EXTRA@}
  consumer_properties: {fetch.wait.max.ms: '5', session.timeout.ms: '6000', heartbeat.interval.ms: '500'}
gateway:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  threads: 2
  instance: 1
  body_limit_bytes: @BODY_LIMIT@
  request_deadline_ms: @DEADLINE@
@GATEWAY_EXTRA@
connector:
  group_id_prefix: @PREFIX@-connector
registries:
  population: {@BACKEND@, sqlite_path: @DIR@/population.db}
  insurance: {@BACKEND@, sqlite_path: @DIR@/insurance.db}
  vehicle: {@BACKEND@, sqlite_path: @DIR@/vehicle.db}
  civil-status: {@BACKEND@, sqlite_path: @DIR@/civil-status.db}
logging: {level: warn}
audit:
  subject_key_file: @DIR@/audit-subject.key
  signing_key_file: @DIR@/audit-signing.pem
  verify_key_file: @DIR@/audit-signing.pub.pem
  store: {@BACKEND@, sqlite_path: @DIR@/audit.db}
  delivery_timeout_ms: @AUDIT_TIMEOUT@
@AUDIT_EXTRA@
auth:
  citizen:
    issuer: @CITIZEN_ISSUER@
    audiences: [@CITIZEN_AUDIENCE@]
    jwks_file: @DIR@/citizen-jwks.json
    daily_reads_per_citizen: @CITIZEN_READS@
@AUTH_EXTRA@
@EXTRA_YAML@
partners:
  - id: ministry
    api_key_sha256: [@MINISTRY@]
    operations: [population.verify, population.lookup, insurance.lookup, vehicle.lookup, citizen.profile]
    fields:
      population: [full_name, date_of_birth, gender]
      insurance: [status, coverage_end, registered_hospital]
      vehicle: [plate_number, brand, model, status]
  - id: health
    api_key_sha256: [@HEALTH@]
    operations: [population.lookup, insurance.lookup, insurance.verify, citizen.profile]
    fields: {population: [full_name], insurance: [social_insurance_number, health_insurance_card, status]}
  - id: police
    api_key_sha256: [@POLICE@]
    operations: [vehicle.verify, vehicle.lookup]
    fields: {vehicle: [plate_number, owner_citizen_id, status]}
  - id: telecom
    api_key_sha256: [@TELECOM@]
    operations: [population.verify]
    name_matching: diacritic-insensitive
    required_grade: partial
    year_only_dates: true
  - id: registrar
    api_key_sha256: [@REGISTRAR@]
    operations: [civil-status.verify, civil-status.lookup]
    year_only_dates: true
    fields: {civil-status: [kind, event_date, spouse_citizen_id, status]}
  - id: citizen-app
    name: Citizen app
    api_key_sha256: [@CITIZEN_APP@]
    operations: [audit.access-log, consent.grant, consent.revoke, consent.list]
@EXTRA_PARTNERS@
)";
  const auto put = [this](const std::string& key, const std::string& value) {
    for (std::size_t pos = 0; (pos = yaml.find(key, pos)) != std::string::npos;)
      yaml.replace(pos, key.size(), value);
  };
  // First, so the extra text may use the placeholders too.
  for (const auto& [name, settings] : options.registries) {
    const std::string line = "\n  " + name + ": ";
    const auto at = yaml.find(line);
    yaml.replace(at + line.size(), yaml.find('\n', at + 1) - at - line.size(), settings);
  }
  put("@GATEWAY_EXTRA@", options.gateway_yaml);
  put("@PRODUCER_EXTRA@",
      options.message_timeout_ms > 0
          ? ", message.timeout.ms: '" + std::to_string(options.message_timeout_ms) + "'"
          : std::string());
  put("@AUDIT_TIMEOUT@", std::to_string(options.audit_delivery_timeout_ms));
  put("@AUDIT_EXTRA@", options.audit_yaml);
  put("@AUTH_EXTRA@", options.auth_yaml);
  put("@CITIZEN_ISSUER@", kCitizenIssuer);
  put("@CITIZEN_AUDIENCE@", kCitizenAudience);
  put("@CITIZEN_READS@", std::to_string(options.citizen_reads_per_day));
  put("@EXTRA_YAML@", options.extra_yaml + (options.batches ? R"(
batches:
  sqlite_path: @DIR@/batches.db
  chunk_records: @CHUNK@
  chunk_timeout_ms: @CHUNK_TIMEOUT@
@BATCHES_EXTRA@
)"
                                                            : ""));
  put("@EXTRA_PARTNERS@", options.extra_partners + (options.batches ? R"(
  - id: bulk
    api_key_sha256: [@BULK@]
    operations: [population.batch-verify, insurance.batch-verify, vehicle.batch-verify,
                 population.verify]
)"
                                                                    : ""));
  put("@BATCHES_EXTRA@", options.batches_yaml);
  put("@CHUNK@", std::to_string(options.chunk_records));
  put("@CHUNK_TIMEOUT@", std::to_string(options.chunk_timeout_ms));
  put("@BULK@", util::sha256_hex(kBulkKey));
  put("@BACKEND@", options.backend == "postgres"
                       ? "backend: postgres, postgres_dsn_env: LGSP_TEST_PG_DSN, pool_size: 2"
                       : "backend: sqlite");
  put("@PREFIX@", prefix);
  put("@DIR@", dir.string());
  put("@BODY_LIMIT@", std::to_string(options.body_limit));
  put("@DEADLINE@", std::to_string(options.deadline_ms));
  put("@MINISTRY@", util::sha256_hex(kMinistryKey));
  put("@HEALTH@", util::sha256_hex(kHealthKey));
  put("@POLICE@", util::sha256_hex(kPoliceKey));
  put("@TELECOM@", util::sha256_hex(kTelecomKey));
  put("@REGISTRAR@", util::sha256_hex(kRegistrarKey));
  put("@CITIZEN_APP@", util::sha256_hex(kCitizenAppKey));
  std::ofstream(dir / "audit-subject.key") << "test-audit-subject-key-0123456789abcdef\n";
  citizen_issuer().write_jwks((dir / "citizen-jwks.json").string());
  for (const char* domain : {"population", "insurance", "vehicle", "civil-status", "audit"})
    util::write_seal_key((dir / "bus-keys").string(), domain, "20261201");
  util::write_ed25519_key_pair((dir / "audit-signing.pem").string(),
                               (dir / "audit-signing.pub.pem").string());
  std::ofstream(config_path()) << yaml;
  cfg = config::load_config(config_path().string());
  obs::init_logging("test", cfg.log_level);

  seed::seed_registries(seed::targets_from(cfg), options.citizens, 11);
  if (options.broker_process) {
    broker = std::make_unique<ChildProcess>(
        std::vector<std::string>{"broker", "--config", config_path().string()}, dir / "broker.log");
    bootstrap = wait_for_bootstrap(cfg.kafka.bootstrap_file);
  } else {
    cluster = app::start_embedded_cluster(cfg);
    bootstrap = cluster->bootstraps();
  }

  if (options.audit_writer) {
    audit::WriterOptions wo = app::audit_writer_options(cfg, bootstrap);
    wo.group_id = prefix + "-audit-writer";
    audit_writer = std::make_unique<audit::AuditWriter>(wo, app::open_audit_store(cfg), metrics);
    audit_writer->start();
  }
  if (options.start_connector) start_connector();
  if (!options.start_gateway) return;
  gateway = std::make_unique<gateway::Gateway>(cfg, bootstrap, metrics);
  gateway->start();
}

TestStack::~TestStack() {
  if (gateway) gateway->stop();
  stop_connector();
  if (audit_writer) audit_writer->stop();
  gateway.reset();
  cluster.reset();
  broker.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

void TestStack::start_connector(const std::string& registry) {
  std::vector<std::string> names;
  for (const auto& [name, _] : cfg.registries) {
    if (registry.empty() || registry == name) names.push_back(name);
  }
  // Start all, then wait: the groups join in parallel.
  for (const auto& name : names) {
    auto c = std::make_unique<connectors::Connector>(cfg, name, bootstrap, metrics);
    c->start();
    connectors[name] = std::move(c);
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (const auto& name : names) {
    while (!connectors[name]->readiness().empty() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_EQ(connectors[name]->readiness(), "")
        << name << " connector did not join its group in 20 s";
  }
}

void TestStack::stop_connector(const std::string& registry) {
  for (auto it = connectors.begin(); it != connectors.end();) {
    if (registry.empty() || it->first == registry) {
      it->second->stop();
      it = connectors.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<domain::CitizenRecord> TestStack::subjects(std::int64_t n) const {
  return registries::population::open_store(cfg.registries.at("population"))->samples(n);
}

std::filesystem::path TestStack::write_process_config() const {
  std::string text = yaml;
  const std::string from = "bootstrap: embedded";
  text.replace(text.find(from), from.size(), "bootstrap: " + bootstrap);
  // The processes log at info: their partition assignments are what tests wait on.
  const std::string level = "logging: {level: warn}";
  text.replace(text.find(level), level.size(), "logging: {level: info}");
  const std::string section = "connector:\n";
  text.replace(text.find(section), section.size(), section + "  admin_listen: 127.0.0.1:0\n");
  // A gateway process must not hold the audit writer's signing key (it refuses to start).
  const std::string signing = "  signing_key_file: " + (dir / "audit-signing.pem").string() + "\n";
  text.replace(text.find(signing), signing.size(), "");
  const auto path = dir / "process.yaml";
  std::ofstream(path) << text;
  return path;
}

std::string TestStack::reload(const std::string& new_yaml) {
  std::ofstream(config_path()) << new_yaml;
  return gateway->reload();
}

std::int64_t TestStack::wait_for_audit(std::int64_t n) const {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (audit_writer->appended() < n && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return audit_writer->appended();
}

HttpResult TestStack::access_log(const std::string& citizen_id,
                                 const boost::json::object& extra) const {
  boost::json::object body{{"citizen_id", citizen_id}, {"purpose", "citizen-self-service"}};
  for (const auto& kv : extra) body[kv.key()] = kv.value();
  return http_call(api_port(), "POST", "/v1/audit/access-log", boost::json::serialize(body),
                   {{"Content-Type", "application/json"},
                    {"Authorization", std::string("Bearer ") + kCitizenAppKey},
                    {"Citizen-Token", citizen_token(citizen_id)}});
}

bool postgres_available() { return std::getenv("LGSP_TEST_PG_DSN") != nullptr; }

}  // namespace lgsp::testing
