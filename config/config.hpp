#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace lgsp::config {

/// host:port. Port 0 asks the OS for a free port (tests).
struct Endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  bool is_loopback() const;
  std::string to_string() const { return host + ":" + std::to_string(port); }
};

using Properties = std::vector<std::pair<std::string, std::string>>;

struct KafkaConfig {
  /// "embedded" starts librdkafka's mock cluster in-process (lgsp dev only); otherwise a
  /// comma-separated bootstrap list of a real cluster.
  std::string bootstrap = "embedded";
  std::int64_t embedded_brokers = 1;
  /// Where the embedded cluster writes its bootstrap list (its ports are random).
  std::string bootstrap_file = "run/kafka-bootstrap.txt";
  std::string topic_prefix = "lgsp";
  std::int64_t request_partitions = 4;
  std::int64_t reply_partitions = 4;
  /// Passed through to librdkafka unchanged (security.protocol, sasl.*, ssl.*, tuning).
  Properties properties;
  Properties producer_properties;
  Properties consumer_properties;
};

struct PartnerConfig {
  std::string id;
  std::string name;
  /// Lower-case hex SHA-256 of each valid API key; never the key itself.
  std::vector<std::string> api_key_sha256;
  /// "registry.operation", e.g. "population.verify"; "citizen.profile" for the profile.
  std::set<std::string> operations;
  /// registry -> fields the partner may receive from lookups.
  std::map<std::string, std::set<std::string>> fields;
  /// A demo partner with a published key: refused unless the API listens on loopback only.
  bool demo = false;
  /// "strict": diacritics must agree; "diacritic-insensitive": "Nguyen Van An" is a partial
  /// match for "Nguyễn Văn An".
  std::string name_matching = "strict";
  /// The grade every claim must reach for match=true: "exact" or "partial".
  std::string required_grade = "exact";
};

struct GatewayConfig {
  Endpoint listen{"127.0.0.1", 8080};
  Endpoint admin_listen{"127.0.0.1", 9464};
  std::int64_t threads = 0;  // 0 = one per core
  /// Which partition of the reply topic this instance owns (one per gateway instance).
  std::int64_t instance = 0;
  std::int64_t body_limit_bytes = 64 * 1024;
  std::int64_t header_limit_bytes = 8 * 1024;
  std::int64_t read_timeout_ms = 10000;
  std::int64_t idle_timeout_ms = 60000;
  std::int64_t request_deadline_ms = 3000;
  std::int64_t max_pending = 10000;
};

struct RegistryConfig {
  std::string backend = "sqlite";  // sqlite | postgres
  std::string sqlite_path;
  /// libpq connection string, e.g. "host=db port=5432 dbname=population user=lgsp";
  /// keep passwords out of it (use postgres_dsn_env, or PGPASSWORD / ~/.pgpass).
  std::string postgres_dsn;
  /// Name of an environment variable holding the connection string (Kubernetes Secrets).
  std::string postgres_dsn_env;
  std::int64_t pool_size = 4;
  /// The connection string to use: postgres_dsn_env's value if set, else postgres_dsn.
  std::string dsn() const;
};

struct ConnectorConfig {
  Endpoint admin_listen{"127.0.0.1", 9465};
  std::string group_id_prefix = "lgsp-connector";
};

struct SeedConfig {
  std::int64_t citizens = 100000;
  std::int64_t seed = 42;
};

struct Config {
  std::string path;
  KafkaConfig kafka;
  GatewayConfig gateway;
  ConnectorConfig connector;
  std::map<std::string, RegistryConfig> registries;
  std::vector<PartnerConfig> partners;
  SeedConfig seed;
  std::string log_level = "info";
};

/// Every problem found in a config file, each "file:line:col: key: detail".
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<std::string> errors);
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::vector<std::string> errors_;
};

/// Reads and validates `path`; throws ConfigError listing every problem.
Config load_config(const std::string& path);
/// Same, from text (tests); `name` stands for the file in messages.
Config parse_config(const std::string& yaml_text, const std::string& name);

}  // namespace lgsp::config
