#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "registries/command_spec.hpp"
#include "util/sealing.hpp"

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
  /// A cluster other than the embedded one or one on loopback must be reached over TLS
  /// (security.protocol ssl or sasl_ssl): requests, replies and audit events carry personal
  /// data and accountability. true lifts that only where the network itself is encrypted.
  bool allow_plaintext = false;
  /// Envelope sealing (util::Sealer): a directory of keys, one file "<domain>.<key id>" per
  /// key, domains being registries and "audit". Read at load into `envelope_keys`. Without
  /// it, envelopes travel as plain protobuf: allowed for the embedded cluster, or where
  /// allow_unsealed says so; any other cluster is refused.
  std::string envelope_keys_dir;
  util::SealKeys envelope_keys;
  /// domain -> key id to seal with while a new key is being rolled out (default: the
  /// greatest key id of the domain).
  std::map<std::string, std::string> envelope_seal_keys;
  bool allow_unsealed = false;
};

/// A token bucket: `requests_per_second` sustained, up to `burst` at once.
struct RateLimit {
  double requests_per_second = 0;  // 0 = unlimited
  double burst = 0;                // 0 = one second's worth
};

/// Where a partner's change feed is also pushed (POST, signed, retried until answered 2xx).
struct WebhookConfig {
  std::string url;  // https://… (plain http only to a loopback address)
  /// The HMAC-SHA256 key the deliveries are signed with, shared with the partner
  /// (secret_file / secret_env; at least 32 characters).
  std::string secret;
  /// The purpose every delivery is made and audited under (one of the partner's purposes).
  std::string purpose;
  /// PEM CA certificates that verify the partner's server ("" = the system's store).
  std::string ca_file;
  bool enabled() const { return !url.empty(); }
};

struct PartnerConfig {
  std::string id;
  std::string name;
  /// Lower-case hex SHA-256 of each valid API key; never the key itself. Two at once while
  /// a key is rotated; a key is revoked by removing its hash and reloading (SIGHUP).
  std::vector<std::string> api_key_sha256;
  /// Mutual TLS: SHA-256 fingerprints (hex) of client certificates, or their subjects
  /// ("CN=evn-gw,O=EVN,C=VN", OpenSSL one-line RFC 2253 form); the certificate must also
  /// chain to gateway.tls.client_ca_file.
  std::vector<std::string> client_cert_sha256;
  std::vector<std::string> client_cert_subjects;
  /// OAuth2 client-credentials: the token's client_id (or sub) that names this partner.
  std::vector<std::string> oauth_client_ids;
  /// Purposes this partner may state (purpose limitation); empty = any non-empty purpose.
  std::set<std::string> purposes;
  RateLimit rate_limit;
  /// Per "registry.operation" limits on top of the partner-wide one.
  std::map<std::string, RateLimit> operation_limits;
  /// Requests per UTC day; 0 = no quota.
  std::int64_t daily_quota = 0;
  /// "registry.operation", e.g. "population.verify"; "citizen.profile" for the profile;
  /// "procedure.<name>" for a procedure.
  std::set<std::string> operations;
  /// registry -> fields the partner may receive from lookups.
  std::map<std::string, std::set<std::string>> fields;
  /// Change feed grants: "<registry>.<command>" (a kind of change, e.g.
  /// "civil-status.record-death") -> the members of its data the partner receives. A grant of
  /// a command includes the changes of its undo (a change taken back).
  std::map<std::string, std::set<std::string>> changes;
  /// Its change feed pushed to it as well (a reload takes effect from the next delivery).
  WebhookConfig webhook;
  /// A demo partner with a published key: refused unless the API listens on loopback only.
  bool demo = false;
  /// "strict": diacritics must agree; "diacritic-insensitive": "Nguyen Van An" is a partial
  /// match for "Nguyễn Văn An".
  std::string name_matching = "strict";
  /// The grade every claim must reach for match=true: "exact" or "partial".
  std::string required_grade = "exact";
  /// Accepts a year alone (YYYY) as a claimed date, graded partial when it agrees. Off
  /// unless granted: a partner should know the date it claims.
  bool year_only_dates = false;
  /// Lawful investigations: a request naming one (`lawful_investigation`) is kept out of the
  /// citizen's access log for this many days, then shown marked as withheld. 0 = not granted.
  std::int64_t withhold_days = 0;
};

/// TLS on the API listener. Without cert_file the listener speaks plain HTTP, which is only
/// accepted on a loopback address.
struct TlsConfig {
  std::string cert_file;            // PEM chain, server certificate first
  std::string key_file;             // PEM private key
  std::string key_password;         // from key_password_file / key_password_env; never inline
  std::string min_version = "1.2";  // 1.2 | 1.3
  /// TLS 1.2 cipher list (OpenSSL syntax); TLS 1.3 suites are OpenSSL's defaults (all AEAD).
  std::string ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20";
  /// Enables mutual TLS: client certificates are requested and must chain to this CA.
  std::string client_ca_file;
  /// Certificate revocation lists (PEM, one or more) of the CAs that issue partners'
  /// certificates: a revoked, or a CRL missing or past its next update, fails the client
  /// certificate. Re-read with the certificates on reload.
  std::string client_crl_file;
  /// Most CA certificates between a client certificate and the trust anchor (OpenSSL's
  /// verify depth): 2 allows a root and two intermediates.
  std::int64_t client_verify_depth = 2;
  bool enabled() const { return !cert_file.empty(); }
};

struct JwtConfig {
  std::string issuer;
  std::vector<std::string> audiences;
  std::string jwks_file;
  std::int64_t clock_skew_s = 60;
  bool enabled() const { return !jwks_file.empty(); }
};

struct GatewayConfig {
  Endpoint listen{"127.0.0.1", 8080};
  TlsConfig tls;
  Endpoint admin_listen{"127.0.0.1", 9464};
  std::int64_t threads = 0;  // 0 = one per core
  /// Which partition of the reply topic this instance owns (one per gateway instance); in a
  /// cluster, each replica leases one instead (ClusterConfig).
  std::int64_t instance = 0;
  std::int64_t body_limit_bytes = std::int64_t{64} * 1024;
  std::int64_t header_limit_bytes = std::int64_t{8} * 1024;
  std::int64_t read_timeout_ms = 10000;
  std::int64_t idle_timeout_ms = 60000;
  std::int64_t request_deadline_ms = 3000;
  std::int64_t max_pending = 10000;
  /// Most interactive requests published together as one Kafka message (1: no bundling).
  std::int64_t max_bundle = 64;
  /// Verifications of one subject by one partner that may fail (match false) within the
  /// window before further ones are refused (429 verify-attempts-exhausted); 0 = no limit.
  std::int64_t failed_verify_limit = 5;
  std::int64_t failed_verify_window_s = 3600;
  /// Requests refused before a partner is known (401, 404, 405) per client address and
  /// second (burst 5x); beyond it 429 too-many-failures, audited as aggregates. 0 = none.
  std::int64_t anonymous_failures_per_second = 10;
};

/// How one column of a registry's record is read from an upstream system's JSON answer.
struct UpstreamField {
  std::string from;  // a JSON Pointer (RFC 6901) into the answer, e.g. /data/hoVaTen
  /// "DD/MM/YYYY", "YYYY-MM-DD" or "YYYYMMDD": the upstream's date form, converted to ISO.
  std::string date_format;
  /// Upstream value → ours (e.g. Nam → male); when given, any other value is malformed.
  std::map<std::string, std::string> values;
};

/// backend: upstream — a ministry's running system behind its REST API
/// (registries/backends/upstream.hpp has the meaning of each setting).
struct UpstreamConfig {
  std::string base_url;
  std::string ca_file, cert_file, key_file;
  std::string bearer_token_env;
  std::int64_t timeout_ms = 800;
  std::int64_t max_attempts = 3;
  std::int64_t retry_budget_percent = 20;
  std::int64_t breaker_failures = 5;
  std::int64_t breaker_open_ms = 5000;
  /// Subject key → path template under base_url, with {value} for the subject
  /// (percent-encoded), e.g. citizen_id: /api/v2/cong-dan/{value}.
  std::map<std::string, std::string> paths;
  /// Registries with several records per subject: the JSON Pointer to the answer's array
  /// of records, e.g. /data/suKien; `fields` then point into each element.
  std::string records;
  /// Column of the module's record → where the upstream's answer holds it.
  std::map<std::string, UpstreamField> fields;
  /// Command of the module → the path under base_url its POST goes to (registries/commands.hpp);
  /// a command without one is refused as not accepted by this backend.
  std::map<std::string, std::string> commands;
  /// Where the connector keeps the changes those commands made (a SQLite file of its own)
  /// until the changes topic has them; "" = the upstream's changes are not announced.
  std::string change_outbox;
};

struct RegistryConfig {
  /// sqlite | postgres | upstream (modules that offer it) | connector (a gateway's entry for a
  /// registry that connector processes elsewhere serve: only its name is used).
  std::string backend = "sqlite";
  std::string sqlite_path;
  /// libpq connection string, e.g. "host=db port=5432 dbname=population user=lgsp";
  /// keep passwords out of it (use postgres_dsn_env, or PGPASSWORD / ~/.pgpass).
  std::string postgres_dsn;
  /// Name of an environment variable holding the connection string (Kubernetes Secrets).
  std::string postgres_dsn_env;
  std::int64_t pool_size = 4;
  UpstreamConfig upstream;
  /// The connection string to use: postgres_dsn_env's value if set, else postgres_dsn.
  /// Inline: the registry modules read it without linking the config reader.
  std::string dsn() const {
    if (!postgres_dsn_env.empty()) {
      // NOLINTNEXTLINE(concurrency-mt-unsafe): read at start, before threads run
      if (const char* v = std::getenv(postgres_dsn_env.c_str())) return v;
    }
    return postgres_dsn;
  }
};

struct AuditConfig {
  /// Off only for benchmarks: a gateway without audit must not serve partners.
  bool enabled = true;
  /// HMAC-SHA256 key for subject hashes (from subject_key_file / subject_key_env): without
  /// it a 12-digit ID's plain hash could be reversed by trying every ID.
  std::string subject_key;
  /// The audit writer's Ed25519 private key, PEM (signing_key_file / _env): it signs the
  /// chain head in every append. Only the writer's config holds it (`lgsp gateway` refuses
  /// to start with it).
  std::string signing_key;
  /// The writer's public key, PEM (verify_key_file): `lgsp audit verify` checks the signed
  /// head with it.
  std::string verify_key;
  /// Where the audit writer keeps the hash chain and the gateway reads the access log.
  RegistryConfig store;
  Endpoint writer_admin_listen{"127.0.0.1", 9466};
  /// librdkafka settings for the audit writer's consumer, applied after kafka.* and the
  /// built-in audit default (audit events travel on the gateway's request producer).
  Properties consumer_properties;
  /// How long a data-bearing answer waits for its audit event to be acknowledged by the
  /// cluster (acks=all) before it is refused with 503 audit-unavailable.
  std::int64_t delivery_timeout_ms = 2000;
  /// Audit events sent but not yet acknowledged above which the gateway refuses new requests
  /// (503 audit-unavailable) before doing any registry work.
  std::int64_t max_undelivered = 2000;
};

/// The citizen identity provider (the citizen app's sign-in): a citizen's own access log is
/// read only with an access token it issued whose subject is that citizen.
struct CitizenIdentityConfig {
  JwtConfig tokens;  // issuer, audiences, JWKS file, clock skew
  /// Access-log reads per citizen per UTC day, whichever partner reads (per gateway process).
  std::int64_t daily_reads_per_citizen = 50;
  bool enabled() const { return tokens.enabled(); }
};

struct AuthConfig {
  JwtConfig jwt;
  CitizenIdentityConfig citizen;
};

struct ConnectorConfig {
  Endpoint admin_listen{"127.0.0.1", 9465};
  std::string group_id_prefix = "lgsp-connector";
};

/// Bulk jobs (POST /v1/batches). Off unless the section is present.
struct BatchConfig {
  bool enabled = false;
  std::string sqlite_path;                       // the job store (without cluster)
  std::int64_t max_records = 50'000'000;         // per job
  std::int64_t max_bytes = 20LL << 30;           // per job, after decompression
  std::int64_t max_active_jobs_per_partner = 2;  // uploading, queued or running
  /// Records a partner's kept jobs may hold together (until retention deletes them).
  std::int64_t max_stored_records_per_partner = 100'000'000;
  std::int64_t max_invalid_records = 100'000;  // per job: beyond it the upload is refused
  std::int64_t max_inflation_ratio = 100;      // decompressed / compressed bytes of an upload
  std::int64_t max_running = 4;                // jobs dispatched at once
  std::int64_t chunk_records = 200;            // records per Kafka message
  std::int64_t max_chunks_in_flight = 16;      // per gateway instance
  std::int64_t chunk_timeout_ms = 30000;       // then the chunk is sent again
  std::int64_t stall_timeout_s = 3600;         // no result for this long: failed
  std::int64_t retention_hours = 168;          // finished jobs are then deleted
};

/// Several gateway replicas sharing state (off unless the section is present): bulk jobs live
/// in the cluster's PostgreSQL store instead of a per-instance SQLite file, and each instance
/// holds a lease on its jobs there (renewed while alive, taken over `lease_ms` after it died).
struct ClusterConfig {
  bool enabled = false;
  RegistryConfig store;           // backend postgres only
  std::int64_t lease_ms = 15000;  // how long an instance's claims outlive its last renewal
};

/// One step of a procedure: a command to one registry, its arguments taken from the
/// procedure's input ("input.<member>") or an earlier step's result ("<step>.<member>").
struct ProcedureStep {
  std::string name;  // unique within the procedure; part of the command id
  std::string registry;
  std::string command;
  /// command argument -> source, in the order the file gives them.
  std::vector<std::pair<std::string, std::string>> args;
};

/// A procedure (a saga): steps applied in order; when one fails for good, the undo commands
/// of those before it run in reverse order. Its input members are those its steps name, each
/// of the kind of the arguments it feeds.
struct ProcedureDefinition {
  std::string name;
  std::string title;
  std::vector<ProcedureStep> steps;
  std::map<std::string, registries::ArgKind> input;
};

/// Procedures (POST /v1/procedures/{name}). Off unless the section is present.
struct ProceduresConfig {
  bool enabled = false;
  std::string sqlite_path;               // the procedure store
  std::int64_t step_timeout_ms = 10000;  // one attempt of a command; then it is sent again
  /// A step still failing for a transient reason this long after the procedure started fails
  /// for good (and the procedure is undone).
  std::int64_t give_up_after_s = 3600;
  std::int64_t retention_hours = std::int64_t{24} * 30;  // finished procedures are then deleted
  std::map<std::string, ProcedureDefinition, std::less<>> definitions;
};

/// The change feed (GET /v1/changes). Off unless the section is present.
struct ChangesConfig {
  bool enabled = false;
  /// This gateway's copy of the changes topic (each replica keeps its own; the cursor is the
  /// topic's offset, so it is the same on every replica).
  std::string sqlite_path;
  std::int64_t retention_hours =
      std::int64_t{24} * 7;      // older changes are deleted; older cursors get 410
  std::int64_t max_wait_s = 30;  // the longest long-poll (?wait=)
  /// Webhooks (partners[].webhook): one POST's deadline, the most changes in one POST, and
  /// the longest pause between retries of a partner whose server does not answer 2xx.
  std::int64_t webhook_timeout_ms = 5000;
  std::int64_t webhook_batch = 100;
  std::int64_t webhook_max_backoff_s = 300;
};

/// Citizens' consents (POST /v1/consents…, and the check of `consent_id` on requests whose
/// purpose needs consent). Off unless the section is present.
struct ConsentsConfig {
  bool enabled = false;
  /// Where consents are kept: sqlite (one gateway) or postgres (every replica shares it).
  RegistryConfig store;
  /// Purposes a partner may state only with the citizen's consent (`consent_id`), e.g. a
  /// bank's credit scoring (Decree 13/2023 art. 11). Refused in bulk jobs and change feeds,
  /// which cannot carry one consent per citizen.
  std::set<std::string> purposes;
  /// The longest a consent may run, in days from its grant.
  std::int64_t max_days = 365;
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
  AuthConfig auth;
  AuditConfig audit;
  BatchConfig batches;
  ClusterConfig cluster;
  ProceduresConfig procedures;
  ChangesConfig changes;
  ConsentsConfig consents;
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
