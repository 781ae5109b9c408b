#include "config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/algorithm/string/case_conv.hpp>
#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "config/partners.hpp"
#include "config/procedures.hpp"
#include "config/yaml_reader.hpp"
#include "registries/backends/upstream_record.hpp"
#include "registries/commands.hpp"
#include "registries/table.hpp"
#include "util/http_url.hpp"
#include "util/signing.hpp"

namespace lgsp::config {
namespace {

/// Environment lookups happen while a process starts (config load, connector set-up),
/// before its threads run; nothing sets the environment concurrently.
const char* env(const std::string& name) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe)
  return std::getenv(name.c_str());
}

std::string join_lines(const std::vector<std::string>& errors) {
  std::string s = "invalid configuration:";
  for (const auto& e : errors) s += "\n  " + e;
  return s;
}

/// A secret comes from `<key>_file` (a mounted Kubernetes Secret; one trailing newline is
/// dropped) or `<key>_env` (an environment variable), never inline in the main file.
void read_secret(YamlReader& r, const YAML::Node& map, const std::string& path,
                 const std::string& key, std::string& out) {
  std::string file;
  std::string var;
  r.get(map, path, key + "_file", file);
  r.get(map, path, key + "_env", var);
  if (!file.empty() && !var.empty()) {
    r.error(map[key + "_env"], YamlReader::join(path, key + "_env"),
            "give either " + key + "_file or " + key + "_env, not both");
  } else if (!file.empty()) {
    std::ifstream in(file);
    if (!in) {
      return r.error(map[key + "_file"], YamlReader::join(path, key + "_file"),
                     "cannot read " + file);
    }
    std::stringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    if (out.empty()) {
      r.error(map[key + "_file"], YamlReader::join(path, key + "_file"), file + " is empty");
    }
  } else if (!var.empty()) {
    const char* v = env(var);
    if (v == nullptr || *v == '\0') {
      return r.error(map[key + "_env"], YamlReader::join(path, key + "_env"),
                     "environment variable " + var + " is not set");
    }
    out = v;
  }
}

void read_endpoint(YamlReader& r, const YAML::Node& map, const std::string& path,
                   std::string_view key, Endpoint& out) {
  std::string text;
  r.get(map, path, key, text);
  if (text.empty()) return;
  const YAML::Node at = map[std::string(key)];
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return r.error(at, YamlReader::join(path, key), "expected host:port, got \"" + text + "\"");
  }
  unsigned port = 0;
  const auto* begin = text.data() + colon + 1;
  const auto* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(begin, end, port);
  if (ec != std::errc{} || p != end || port > 65535) {
    return r.error(at, YamlReader::join(path, key), "port must be a number 0-65535");
  }
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  out = Endpoint{host, static_cast<std::uint16_t>(port)};
}

void read_properties(YamlReader& r, const YAML::Node& map, const std::string& path,
                     std::string_view key, Properties& out) {
  const YAML::Node n = map[std::string(key)];
  if (!n) return;
  const std::string p = YamlReader::join(path, key);
  if (!n.IsMap()) return r.error(n, p, "expected a mapping of librdkafka property names to values");
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->first.IsScalar()) {
      r.error(it->first, p, "a property name must be a plain name");
      continue;
    }
    if (!it->second.IsScalar()) {
      r.error(it->second, p + "." + it->first.Scalar(), "expected a scalar value");
      continue;
    }
    out.emplace_back(it->first.Scalar(), it->second.Scalar());
  }
}

/// Whether every host of a bootstrap list ("host:port,host:port", IPv6 in brackets) is a
/// loopback address.
bool loopback_bootstrap(const std::string& bootstrap) {
  std::istringstream in(bootstrap);
  std::string server;
  bool any = false;
  while (std::getline(in, server, ',')) {
    server.erase(0, server.find_first_not_of(' '));
    server.erase(server.find_last_not_of(' ') + 1);
    if (const auto scheme = server.find("://"); scheme != std::string::npos) {
      server.erase(0, scheme + 3);
    }
    std::string host = server;
    if (!host.empty() && host.front() == '[') {
      host = host.substr(1, host.find(']') - 1);
    } else if (const auto colon = host.rfind(':'); colon != std::string::npos) {
      host.erase(colon);
    }
    if (!Endpoint{host, 0}.is_loopback()) return false;
    any = true;
  }
  return any;
}

/// For a cluster that must use TLS: which client layer would not ("security.protocol is
/// plaintext in kafka.properties", ...), or nullopt when all use ssl or sasl_ssl or the
/// cluster is embedded or on loopback.
std::optional<std::string> plaintext_layer(const KafkaConfig& k) {
  if (k.bootstrap == "embedded" || loopback_bootstrap(k.bootstrap)) return std::nullopt;
  const auto protocol_in = [](const Properties& props) -> std::optional<std::string> {
    std::optional<std::string> found;
    for (const auto& [key, value] : props) {
      if (key == "security.protocol") found = boost::algorithm::to_lower_copy(value);
    }
    return found;
  };
  const auto secure = [](const std::string& p) { return p == "ssl" || p == "sasl_ssl"; };
  const std::string common = protocol_in(k.properties).value_or("plaintext");
  for (const auto& [layer, props] : {std::pair{"producer_properties", &k.producer_properties},
                                     std::pair{"consumer_properties", &k.consumer_properties}}) {
    const std::string p = protocol_in(*props).value_or(common);
    if (!secure(p)) {
      return "security.protocol is " + p +
             (protocol_in(*props) ? std::string(" in kafka.") + layer
                                  : std::string(protocol_in(k.properties) ? " in kafka.properties"
                                                                          : " by default"));
    }
  }
  return std::nullopt;
}

/// kafka.envelope_keys_dir and its companions: the keys are read here, so a bad key file is
/// a config error naming it.
void read_envelope_keys(YamlReader& r, const YAML::Node& n, KafkaConfig& k) {
  const std::string path = "kafka";
  r.get(n, path, "allow_unsealed", k.allow_unsealed);
  r.get(n, path, "envelope_keys_dir", k.envelope_keys_dir);
  if (const auto pins = n["envelope_seal_keys"]) {
    if (!pins.IsMap()) {
      r.error(pins, path + ".envelope_seal_keys", "must be a map of domain: key id");
    } else {
      for (const auto& it : pins) {
        k.envelope_seal_keys[it.first.as<std::string>()] = it.second.as<std::string>("");
      }
    }
  }
  if (!k.envelope_keys_dir.empty()) {
    try {
      k.envelope_keys = util::read_seal_keys(k.envelope_keys_dir);
      (void)util::Sealer(k.envelope_keys, k.envelope_seal_keys);
    } catch (const std::invalid_argument& e) {
      r.error(n["envelope_seal_keys"], path + ".envelope_seal_keys", e.what());
    } catch (const std::runtime_error& e) {
      r.error(n["envelope_keys_dir"], path + ".envelope_keys_dir", e.what());
    }
  } else if (!k.envelope_seal_keys.empty()) {
    r.error(n["envelope_seal_keys"], path + ".envelope_seal_keys", "needs kafka.envelope_keys_dir");
  } else if (k.bootstrap != "embedded" && !k.allow_unsealed) {
    r.error(n["bootstrap"], path + ".bootstrap",
            "envelopes to the cluster " + k.bootstrap +
                " would travel unsealed, readable and forgeable by whoever can read or write its "
                "topics: set kafka.envelope_keys_dir (`lgsp keys bus DIR DOMAIN...` writes the "
                "keys), or kafka.allow_unsealed: true only where every topic writer and reader "
                "is trusted");
  }
}

void read_kafka(YamlReader& r, const YAML::Node& n, KafkaConfig& k) {
  const std::string path = "kafka";
  if (!r.check_map(
          n, path,
          {"bootstrap", "embedded_brokers", "bootstrap_file", "topic_prefix", "request_partitions",
           "reply_partitions", "properties", "producer_properties", "consumer_properties",
           "allow_plaintext", "envelope_keys_dir", "envelope_seal_keys", "allow_unsealed"})) {
    return;
  }
  r.get(n, path, "allow_plaintext", k.allow_plaintext);
  r.get(n, path, "bootstrap", k.bootstrap);
  r.get(n, path, "embedded_brokers", k.embedded_brokers, 1, 9);
  r.get(n, path, "bootstrap_file", k.bootstrap_file);
  r.get(n, path, "topic_prefix", k.topic_prefix);
  r.get(n, path, "request_partitions", k.request_partitions, 1, 1024);
  r.get(n, path, "reply_partitions", k.reply_partitions, 1, 1024);
  read_properties(r, n, path, "properties", k.properties);
  read_properties(r, n, path, "producer_properties", k.producer_properties);
  read_properties(r, n, path, "consumer_properties", k.consumer_properties);
  if (k.bootstrap.empty()) r.error(n["bootstrap"], "kafka.bootstrap", "must not be empty");
  if (const auto plain = plaintext_layer(k); plain && !k.allow_plaintext) {
    r.error(n["bootstrap"], "kafka.bootstrap",
            "the cluster " + k.bootstrap + " would be reached without TLS (" + *plain +
                "): set kafka.properties.security.protocol to ssl or sasl_ssl (with "
                "ssl.ca.location), or kafka.allow_plaintext: true only where the network "
                "itself is encrypted");
  }
  read_envelope_keys(r, n, k);
}

void read_tls(YamlReader& r, const YAML::Node& n, TlsConfig& t);

void read_gateway(YamlReader& r, const YAML::Node& n, GatewayConfig& g) {
  const std::string path = "gateway";
  if (!r.check_map(n, path,
                   {"listen", "admin_listen", "threads", "instance", "body_limit_bytes",
                    "header_limit_bytes", "read_timeout_ms", "idle_timeout_ms",
                    "request_deadline_ms", "max_pending", "max_bundle", "failed_verify_limit",
                    "failed_verify_window_s", "anonymous_failures_per_second", "tls"})) {
    return;
  }
  read_endpoint(r, n, path, "listen", g.listen);
  if (n["tls"]) read_tls(r, n["tls"], g.tls);
  read_endpoint(r, n, path, "admin_listen", g.admin_listen);
  r.get(n, path, "threads", g.threads, 0, 256);
  r.get(n, path, "instance", g.instance, 0, 1023);
  r.get(n, path, "body_limit_bytes", g.body_limit_bytes, 256, 64LL << 20);
  r.get(n, path, "header_limit_bytes", g.header_limit_bytes, 1024, 1 << 20);
  r.get(n, path, "read_timeout_ms", g.read_timeout_ms, 10, 3600000);
  r.get(n, path, "idle_timeout_ms", g.idle_timeout_ms, 10, 3600000);
  r.get(n, path, "request_deadline_ms", g.request_deadline_ms, 10, 600000);
  r.get(n, path, "max_pending", g.max_pending, 1, 10000000);
  r.get(n, path, "max_bundle", g.max_bundle, 1, 1024);
  r.get(n, path, "failed_verify_limit", g.failed_verify_limit, 0, 1000);
  r.get(n, path, "failed_verify_window_s", g.failed_verify_window_s, 1, 604800);
  r.get(n, path, "anonymous_failures_per_second", g.anonymous_failures_per_second, 0, 1000000);
}

void read_connector(YamlReader& r, const YAML::Node& n, ConnectorConfig& c) {
  const std::string path = "connector";
  if (!r.check_map(n, path, {"admin_listen", "group_id_prefix"})) return;
  read_endpoint(r, n, path, "admin_listen", c.admin_listen);
  r.get(n, path, "group_id_prefix", c.group_id_prefix);
}

/// One column of an upstream answer: a JSON Pointer, or {from, date_format, values}.
void read_upstream_field(YamlReader& r, const YAML::Node& v, const std::string& path,
                         UpstreamField& f) {
  if (v.IsScalar()) {
    f.from = v.Scalar();
  } else if (r.check_map(v, path, {"from", "date_format", "values"})) {
    r.get(v, path, "from", f.from);
    r.get(v, path, "date_format", f.date_format);
    if (const YAML::Node values = v["values"]) {
      if (!values.IsMap()) return r.error(values, path + ".values", "expected a mapping");
      for (auto it = values.begin(); it != values.end(); ++it) {
        if (!it->second.IsScalar()) {
          r.error(it->second, path + ".values." + it->first.Scalar(), "expected a string");
          continue;
        }
        f.values[it->first.Scalar()] = it->second.Scalar();
      }
    }
  } else {
    return;
  }
  if (!f.from.starts_with('/'))
    r.error(v, path, "expected a JSON Pointer such as /data/hoVaTen (or {from: ...})");
  if (!f.date_format.empty() && f.date_format != "DD/MM/YYYY" && f.date_format != "YYYY-MM-DD" &&
      f.date_format != "YYYYMMDD") {
    r.error(v["date_format"], path + ".date_format", "expected DD/MM/YYYY, YYYY-MM-DD or YYYYMMDD");
  }
}

/// A named list's items must be among `allowed`.
bool among(std::span<const std::string_view> allowed, const std::string& name) {
  return std::find(allowed.begin(), allowed.end(), name) != allowed.end();
}

std::string listed(std::span<const std::string_view> items) {
  std::string out;
  for (auto s : items) out += (out.empty() ? "" : ", ") + std::string(s);
  return out;
}

/// commands of an upstream block: command → the path its POST goes to.
void read_upstream_commands(YamlReader& r, const YAML::Node& v, const std::string& path,
                            const registries::UpstreamShape& shape, UpstreamConfig& u) {
  const YAML::Node commands = v["commands"];
  if (!commands) return;
  if (!commands.IsMap()) return r.error(commands, path + ".commands", "expected command → path");
  for (auto it = commands.begin(); it != commands.end(); ++it) {
    const std::string name = it->first.Scalar();
    const std::string at = YamlReader::join(path + ".commands", name);
    if (registries::find_command(shape.commands, name) == nullptr) {
      std::string known;
      for (const auto& c : shape.commands)
        known += (known.empty() ? "" : ", ") + std::string(c.name);
      r.error(it->first, at,
              "not a command of this registry (" + (known.empty() ? "it has none" : known) + ")");
    } else if (!it->second.IsScalar() || !it->second.Scalar().starts_with('/')) {
      r.error(it->second, at, "expected a path starting with /");
    } else {
      u.commands[name] = it->second.Scalar();
    }
  }
}

/// paths and fields of an upstream block, against what the module can take.
void read_upstream_shape(YamlReader& r, const YAML::Node& v, const std::string& path,
                         const registries::UpstreamShape& shape, UpstreamConfig& u) {
  const YAML::Node paths = v["paths"];
  if (!paths || !paths.IsMap() || paths.size() == 0) {
    r.error(paths ? paths : v, path + ".paths",
            "required: subject key → path with {value}, e.g. citizen_id: /api/v2/cong-dan/{value}");
  } else {
    for (auto it = paths.begin(); it != paths.end(); ++it) {
      const std::string key = it->first.Scalar();
      const std::string at = YamlReader::join(path + ".paths", key);
      if (!among(shape.subject_keys, key)) {
        r.error(it->first, at,
                "unknown subject key (expected one of " + listed(shape.subject_keys) + ")");
      } else if (!it->second.IsScalar() || !it->second.Scalar().starts_with('/') ||
                 it->second.Scalar().find("{value}") == std::string::npos) {
        r.error(it->second, at, "expected a path starting with / and holding {value}");
      } else {
        u.paths[key] = it->second.Scalar();
      }
    }
  }
  r.get(v, path, "records", u.records);
  if (shape.many && u.records.empty()) {
    r.error(v, path + ".records",
            "required: this registry holds several records per subject; the JSON Pointer to "
            "the answer's array of them, e.g. /data/items");
  } else if (!shape.many && !u.records.empty()) {
    r.error(v["records"], path + ".records",
            "this registry holds one record per subject: remove records");
  } else if (!u.records.empty() && !u.records.starts_with('/')) {
    r.error(v["records"], path + ".records", "expected a JSON Pointer, starting with /");
  }
  const YAML::Node fields = v["fields"];
  if (!fields || !fields.IsMap()) {
    return r.error(fields ? fields : v, path + ".fields",
                   "required: column → JSON Pointer into the upstream's answer");
  }
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    const std::string column = it->first.Scalar();
    const std::string at = YamlReader::join(path + ".fields", column);
    if (!among(shape.columns, column)) {
      r.error(it->first, at, "unknown column (expected one of " + listed(shape.columns) + ")");
      continue;
    }
    read_upstream_field(r, it->second, at, u.fields[column]);
  }
  for (auto column : shape.required) {
    if (!u.fields.contains(std::string(column)))
      r.error(fields, path + ".fields." + std::string(column), "required");
  }
  read_upstream_commands(r, v, path, shape, u);
}

/// registries.<name>.upstream: how to reach the ministry's system and read its answers.
void read_upstream(YamlReader& r, const YAML::Node& v, const std::string& path,
                   const registries::UpstreamShape& shape, UpstreamConfig& u) {
  if (!r.check_map(
          v, path,
          {"base_url", "ca_file", "cert_file", "key_file", "bearer_token_env", "timeout_ms",
           "max_attempts", "retry_budget_percent", "breaker_failures", "breaker_open_ms", "paths",
           "records", "fields", "commands", "change_outbox"})) {
    return;
  }
  for (const auto& [key, out] : {std::pair<const char*, std::string*>{"base_url", &u.base_url},
                                 {"change_outbox", &u.change_outbox},
                                 {"ca_file", &u.ca_file},
                                 {"cert_file", &u.cert_file},
                                 {"key_file", &u.key_file},
                                 {"bearer_token_env", &u.bearer_token_env}}) {
    r.get(v, path, key, *out);
  }
  r.get(v, path, "timeout_ms", u.timeout_ms, 1, 600000);
  r.get(v, path, "max_attempts", u.max_attempts, 1, 10);
  r.get(v, path, "retry_budget_percent", u.retry_budget_percent, 0, 100);
  r.get(v, path, "breaker_failures", u.breaker_failures, 1, 1000);
  r.get(v, path, "breaker_open_ms", u.breaker_open_ms, 100, 3600000);
  if (u.base_url.empty()) r.error(v, path + ".base_url", "required");
  bool token_name_ok = true;
  for (const auto& p : registries::upstream::problems(registries::upstream::options_of(u))) {
    if (p.key == "base_url" && u.base_url.empty()) continue;
    // A token pasted where its variable's name belongs is never echoed back.
    if (p.key == "bearer_token_env") token_name_ok = false;
    // The client's option names, as this block spells them.
    std::string key(p.key);
    if (key == "timeout") key = "timeout_ms";
    if (key == "retry_budget") key = "retry_budget_percent";
    if (key == "breaker_open_for") key = "breaker_open_ms";
    r.error(v[key] ? v[key] : v, YamlReader::join(path, key), p.message);
  }
  if (token_name_ok && !u.bearer_token_env.empty() && env(u.bearer_token_env) == nullptr) {
    r.error(v["bearer_token_env"], path + ".bearer_token_env",
            "environment variable " + u.bearer_token_env + " is not set");
  }
  read_upstream_shape(r, v, path, shape, u);
}

/// A store's settings (a registry, or the audit chain). False when the map is unusable.
/// `shape`: the registry module's upstream backend, when it has one.
bool read_store(YamlReader& r, const YAML::Node& v, const std::string& path, RegistryConfig& rc,
                const registries::UpstreamShape& shape = {}) {
  if (!r.check_map(v, path,
                   {"backend", "sqlite_path", "postgres_dsn", "postgres_dsn_env",
                    "postgres_dsn_file", "pool_size", "upstream"})) {
    return false;
  }
  r.get(v, path, "backend", rc.backend);
  r.get(v, path, "sqlite_path", rc.sqlite_path);
  r.get(v, path, "postgres_dsn", rc.postgres_dsn);
  r.get(v, path, "postgres_dsn_env", rc.postgres_dsn_env);
  std::string dsn_file;
  r.get(v, path, "postgres_dsn_file", dsn_file);
  if (!dsn_file.empty()) read_secret(r, v, path, "postgres_dsn", rc.postgres_dsn);
  r.get(v, path, "pool_size", rc.pool_size, 1, 64);
  if (rc.backend == "sqlite") {
    if (rc.sqlite_path.empty())
      r.error(v, path + ".sqlite_path", "required when backend is sqlite");
  } else if (rc.backend == "postgres") {
    if (rc.postgres_dsn.empty() && rc.postgres_dsn_env.empty()) {
      r.error(v, path + ".postgres_dsn",
              "postgres_dsn, postgres_dsn_file or postgres_dsn_env is required when backend is "
              "postgres");
    } else if (!rc.postgres_dsn_env.empty() && env(rc.postgres_dsn_env) == nullptr) {
      r.error(v["postgres_dsn_env"], path + ".postgres_dsn_env",
              "environment variable " + rc.postgres_dsn_env + " is not set");
    }
  } else if (rc.backend == "upstream" && !shape.columns.empty()) {
    if (v["upstream"]) {
      read_upstream(r, v["upstream"], path + ".upstream", shape, rc.upstream);
    } else {
      r.error(v, path + ".upstream", "required when backend is upstream");
    }
  } else {
    r.error(v["backend"], path + ".backend",
            "unsupported backend \"" + rc.backend + "\" (supported: sqlite, postgres" +
                (shape.columns.empty() ? "" : ", upstream") + ")");
  }
  if (v["upstream"] && rc.backend != "upstream")
    r.error(v["upstream"], path + ".upstream", "only with backend: upstream");
  return true;
}

void read_registries(YamlReader& r, const YAML::Node& n,
                     std::map<std::string, RegistryConfig>& out) {
  if (!n.IsMap())
    return r.error(n, "registries", "expected a mapping of registry name to settings");
  for (auto it = n.begin(); it != n.end(); ++it) {
    const std::string name = it->first.Scalar();
    const std::string path = "registries." + name;
    if (registries::find(name) == nullptr) {
      r.error(it->first, path, "unknown registry (known: " + registries::known_names() + ")");
      continue;
    }
    RegistryConfig rc;
    // `backend: connector`: served by connector processes elsewhere; this process (a
    // gateway) only routes requests to it, and needs nothing about how to reach it.
    if (it->second.IsMap() && it->second["backend"] &&
        it->second["backend"].Scalar() == "connector") {
      if (r.check_map(it->second, path, {"backend"})) {
        rc.backend = "connector";
        out[name] = rc;
      }
      continue;
    }
    if (read_store(r, it->second, path, rc, registries::find(name)->upstream_shape()))
      out[name] = rc;
  }
}

void read_tls(YamlReader& r, const YAML::Node& n, TlsConfig& t) {
  const std::string path = "gateway.tls";
  if (!r.check_map(n, path,
                   {"cert_file", "key_file", "key_password_file", "key_password_env", "min_version",
                    "ciphers", "client_ca_file", "client_crl_file", "client_verify_depth"})) {
    return;
  }
  r.get(n, path, "cert_file", t.cert_file);
  r.get(n, path, "key_file", t.key_file);
  read_secret(r, n, path, "key_password", t.key_password);
  r.get(n, path, "min_version", t.min_version);
  r.get(n, path, "ciphers", t.ciphers);
  r.get(n, path, "client_ca_file", t.client_ca_file);
  r.get(n, path, "client_crl_file", t.client_crl_file);
  r.get(n, path, "client_verify_depth", t.client_verify_depth, 0, 10);
  if (!t.client_crl_file.empty() && t.client_ca_file.empty()) {
    r.error(n["client_crl_file"], path + ".client_crl_file",
            "revocation lists need client_ca_file (the CA whose certificates they revoke)");
  }
  if (t.min_version != "1.2" && t.min_version != "1.3")
    r.error(n["min_version"], path + ".min_version", "expected \"1.2\" or \"1.3\"");
  if (t.cert_file.empty()) r.error(n, path + ".cert_file", "required when gateway.tls is given");
  if (t.key_file.empty()) r.error(n, path + ".key_file", "required when gateway.tls is given");
  for (const auto* key : {"cert_file", "key_file", "client_ca_file", "client_crl_file"}) {
    const YAML::Node v = n[key];
    if (v && v.IsScalar() && !v.Scalar().empty() && !std::ifstream(v.Scalar())) {
      r.error(v, path + "." + key, "cannot read " + v.Scalar());
    }
  }
}

/// An identity provider's token settings (`path`: "auth.jwt" or "auth.citizen"); the caller
/// has checked the map's keys.
void read_token_issuer(YamlReader& r, const YAML::Node& j, const std::string& path, JwtConfig& t) {
  r.get(j, path, "issuer", t.issuer);
  r.get(j, path, "audiences", t.audiences);
  r.get(j, path, "jwks_file", t.jwks_file);
  r.get(j, path, "clock_skew_s", t.clock_skew_s, 0, 600);
  if (t.issuer.empty()) r.error(j, path + ".issuer", "required (the identity provider's iss)");
  if (t.audiences.empty())
    r.error(j, path + ".audiences", "required (the aud values tokens for this gateway carry)");
  if (t.jwks_file.empty()) {
    r.error(j, path + ".jwks_file", "required (the identity provider's public keys, JWKS)");
  } else if (!std::ifstream(t.jwks_file)) {
    r.error(j["jwks_file"], path + ".jwks_file", "cannot read " + t.jwks_file);
  }
}

void read_auth(YamlReader& r, const YAML::Node& n, AuthConfig& a) {
  if (!r.check_map(n, "auth", {"jwt", "citizen"})) return;
  const YAML::Node j = n["jwt"];
  if (j && r.check_map(j, "auth.jwt", {"issuer", "audiences", "jwks_file", "clock_skew_s"})) {
    read_token_issuer(r, j, "auth.jwt", a.jwt);
  }
  const YAML::Node c = n["citizen"];
  if (c && r.check_map(
               c, "auth.citizen",
               {"issuer", "audiences", "jwks_file", "clock_skew_s", "daily_reads_per_citizen"})) {
    read_token_issuer(r, c, "auth.citizen", a.citizen.tokens);
    r.get(c, "auth.citizen", "daily_reads_per_citizen", a.citizen.daily_reads_per_citizen, 1,
          100000);
  }
}

/// audit.signing_key_file (the writer's Ed25519 private key) and audit.verify_key_file (its
/// public key, for verify), each checked to be such a key.
void read_signing_keys(YamlReader& r, const YAML::Node& n, AuditConfig& a) {
  const std::string path = "audit";
  read_secret(r, n, path, "signing_key", a.signing_key);
  read_secret(r, n, path, "verify_key", a.verify_key);
  try {
    if (!a.signing_key.empty()) (void)util::Ed25519Signer(a.signing_key);
  } catch (const std::invalid_argument& e) {
    r.error(n[n["signing_key_env"] ? "signing_key_env" : "signing_key_file"],
            path + (n["signing_key_env"] ? ".signing_key_env" : ".signing_key_file"), e.what());
  }
  try {
    if (!a.verify_key.empty()) (void)util::Ed25519Verifier(a.verify_key);
  } catch (const std::invalid_argument& e) {
    r.error(n["verify_key_file"], path + ".verify_key_file", e.what());
  }
}

void read_audit(YamlReader& r, const YAML::Node& n, AuditConfig& a) {
  const std::string path = "audit";
  if (!r.check_map(n, path,
                   {"enabled", "subject_key_file", "subject_key_env", "store",
                    "writer_admin_listen", "consumer_properties", "delivery_timeout_ms",
                    "max_undelivered", "signing_key_file", "signing_key_env", "verify_key_file"})) {
    return;
  }
  r.get(n, path, "enabled", a.enabled);
  r.get(n, path, "delivery_timeout_ms", a.delivery_timeout_ms, 50, 60000);
  r.get(n, path, "max_undelivered", a.max_undelivered, 1, 1'000'000);
  read_secret(r, n, path, "subject_key", a.subject_key);
  read_signing_keys(r, n, a);
  if (n["store"]) read_store(r, n["store"], path + ".store", a.store);
  read_endpoint(r, n, path, "writer_admin_listen", a.writer_admin_listen);
  read_properties(r, n, path, "consumer_properties", a.consumer_properties);
  if (a.enabled && !n["subject_key_file"] && !n["subject_key_env"]) {
    r.error(n, path + ".subject_key_file",
            "required: a secret of at least 32 characters for subject hashes (`lgsp keys secret "
            "FILE` writes one)");
  } else if (a.enabled && !a.subject_key.empty() && a.subject_key.size() < 32) {
    r.error(n, path + ".subject_key_file", "the subject key must be at least 32 characters");
  }
}

void read_batches(YamlReader& r, const YAML::Node& n, BatchConfig& b) {
  const std::string path = "batches";
  if (!r.check_map(
          n, path,
          {"enabled", "sqlite_path", "max_records", "max_bytes", "max_active_jobs_per_partner",
           "max_running", "chunk_records", "max_chunks_in_flight", "chunk_timeout_ms",
           "stall_timeout_s", "retention_hours", "max_stored_records_per_partner",
           "max_invalid_records", "max_inflation_ratio"})) {
    return;
  }
  b.enabled = true;
  r.get(n, path, "enabled", b.enabled);
  r.get(n, path, "sqlite_path", b.sqlite_path);
  r.get(n, path, "max_records", b.max_records, 1, 10'000'000'000LL);
  r.get(n, path, "max_bytes", b.max_bytes, 1024, 1LL << 50);
  r.get(n, path, "max_active_jobs_per_partner", b.max_active_jobs_per_partner, 1, 1000);
  r.get(n, path, "max_stored_records_per_partner", b.max_stored_records_per_partner, 1,
        100'000'000'000LL);
  r.get(n, path, "max_invalid_records", b.max_invalid_records, 0, 10'000'000'000LL);
  r.get(n, path, "max_inflation_ratio", b.max_inflation_ratio, 2, 100'000);
  r.get(n, path, "max_running", b.max_running, 1, 1000);
  r.get(n, path, "chunk_records", b.chunk_records, 1, 5000);
  r.get(n, path, "max_chunks_in_flight", b.max_chunks_in_flight, 1, 10000);
  r.get(n, path, "chunk_timeout_ms", b.chunk_timeout_ms, 100, 3600000);
  r.get(n, path, "stall_timeout_s", b.stall_timeout_s, 1, 30LL * 86400);
  r.get(n, path, "retention_hours", b.retention_hours, 1, 24LL * 3650);
}

void read_changes(YamlReader& r, const YAML::Node& n, ChangesConfig& c) {
  const std::string path = "changes";
  if (!r.check_map(n, path,
                   {"enabled", "sqlite_path", "retention_hours", "max_wait_s", "webhook_timeout_ms",
                    "webhook_batch", "webhook_max_backoff_s"})) {
    return;
  }
  c.enabled = true;
  r.get(n, path, "enabled", c.enabled);
  r.get(n, path, "sqlite_path", c.sqlite_path);
  r.get(n, path, "retention_hours", c.retention_hours, 1, 24LL * 3650);
  r.get(n, path, "max_wait_s", c.max_wait_s, 0, 120);
  r.get(n, path, "webhook_timeout_ms", c.webhook_timeout_ms, 100, 60000);
  r.get(n, path, "webhook_batch", c.webhook_batch, 1, 1000);
  r.get(n, path, "webhook_max_backoff_s", c.webhook_max_backoff_s, 1, 86400);
  if (c.enabled && c.sqlite_path.empty()) r.error(n, "changes.sqlite_path", "required");
}

void read_consents(YamlReader& r, const YAML::Node& n, ConsentsConfig& c) {
  const std::string path = "consents";
  if (!r.check_map(n, path, {"enabled", "store", "purposes", "max_days"})) return;
  c.enabled = true;
  r.get(n, path, "enabled", c.enabled);
  r.get(n, path, "max_days", c.max_days, 1, 3650);
  std::vector<std::string> purposes;
  std::vector<YAML::Node> at;
  if (n["purposes"]) r.strings(n["purposes"], path + ".purposes", purposes, at);
  for (std::size_t i = 0; i < purposes.size(); ++i) {
    if (purposes[i].empty() || purposes[i].size() > 200)
      r.error(at[i], path + ".purposes", "a purpose is 1 to 200 bytes, as partners state it");
  }
  c.purposes.insert(purposes.begin(), purposes.end());
  if (!n["store"]) {
    if (c.enabled) r.error(n, path + ".store", "required: where consents are kept");
    return;
  }
  if (read_store(r, n["store"], path + ".store", c.store) && c.store.backend != "sqlite" &&
      c.store.backend != "postgres") {
    r.error(n["store"]["backend"], path + ".store.backend", "must be sqlite or postgres");
  }
}

void read_cluster(YamlReader& r, const YAML::Node& n, ClusterConfig& c) {
  const std::string path = "cluster";
  if (!r.check_map(n, path, {"store", "lease_ms"})) return;
  c.enabled = true;
  r.get(n, path, "lease_ms", c.lease_ms, 3000, 600000);
  if (!n["store"]) {
    r.error(n, path + ".store", "required: the PostgreSQL database the gateways share");
    return;
  }
  if (!read_store(r, n["store"], path + ".store", c.store)) return;
  if (c.store.backend != "postgres") {
    r.error(n["store"], path + ".store.backend",
            "must be postgres: replicas on several machines cannot share a SQLite file");
  }
}

/// One credential (API key hash, certificate fingerprint or subject, OAuth2 client id) must
/// name one partner: otherwise which partner a caller is depends on the order of the list.
void check_credentials_unique(YamlReader& r, const YAML::Node& root, const Config& c) {
  std::map<std::string, std::string> owner;  // "kind\0value" -> partner id
  for (std::size_t i = 0; i < c.partners.size(); ++i) {
    const auto& p = c.partners[i];
    const auto claim = [&](const char* kind, const std::vector<std::string>& values) {
      for (const auto& v : values) {
        const auto [it, fresh] = owner.try_emplace(std::string(kind) + '\0' + v, p.id);
        if (fresh || it->second == p.id) continue;
        r.error(root["partners"][i], "partners[" + std::to_string(i) + "]." + kind,
                "partner \"" + p.id + "\" has a credential of partner \"" + it->second +
                    "\": one credential must name one partner");
      }
    };
    claim("api_key_sha256", p.api_key_sha256);
    claim("client_cert_sha256", p.client_cert_sha256);
    claim("client_cert_subjects", p.client_cert_subjects);
    claim("oauth_client_ids", p.oauth_client_ids);
  }
}

/// Why the backend of `rc` cannot apply `step`'s command (and its undo), or "".
std::string command_backend_problem(const RegistryConfig& rc, const ProcedureStep& step) {
  if (rc.backend == "connector") {
    return "the " + step.registry +
           " registry is named with backend connector: name its real backend here, so that the "
           "gateway can check at start that it applies " +
           step.command;
  }
  if (rc.backend == "postgres")
    return "the " + step.registry + " registry's postgres backend does not accept commands yet";
  if (rc.backend != "upstream") return {};
  const auto* module = registries::find(step.registry);
  const auto* spec = module == nullptr
                         ? nullptr
                         : registries::find_command(module->catalogue().commands, step.command);
  for (const std::string_view command :
       {std::string_view(step.command), spec != nullptr ? spec->undo : std::string_view{}}) {
    if (!command.empty() && !rc.upstream.commands.contains(std::string(command)))
      return "the " + step.registry + " registry is served by an upstream system: map " +
             std::string(command) + " under registries." + step.registry + ".upstream.commands";
  }
  return {};
}

/// Procedures are kept in one gateway's SQLite file or, in a cluster, in the store the
/// replicas share; they run against configured registries.
void check_procedures(YamlReader& r, const YAML::Node& root, const Config& c) {
  if (!c.procedures.enabled) return;
  const YAML::Node n = root["procedures"];
  if (c.cluster.enabled && !c.procedures.sqlite_path.empty()) {
    r.error(n["sqlite_path"], "procedures.sqlite_path",
            "not used with a cluster section: the replicas keep procedures in cluster.store; "
            "remove it");
  } else if (!c.cluster.enabled && c.procedures.sqlite_path.empty()) {
    r.error(n, "procedures.sqlite_path",
            "required: where procedures are kept (or a cluster section, for a store the "
            "replicas share)");
  }
  for (const auto& [name, def] : c.procedures.definitions) {
    for (std::size_t i = 0; i < def.steps.size(); ++i) {
      const auto& step = def.steps[i];
      const YAML::Node at = n["definitions"][name]["steps"][i];
      const std::string path =
          "procedures.definitions." + name + ".steps[" + std::to_string(i) + "]";
      if (step.registry.empty()) continue;
      const auto rc = c.registries.find(step.registry);
      if (rc == c.registries.end()) {
        r.error(
            at["registry"], path + ".registry",
            "registry \"" + step.registry + "\" is not under registries: nobody would apply it");
        continue;
      }
      const std::string why = command_backend_problem(rc->second, step);
      if (!why.empty()) r.error(at["command"], path + ".command", why);
    }
  }
}

/// Where bulk jobs are kept: a SQLite file of this instance, or the cluster's shared store.
void check_batch_store(YamlReader& r, const YAML::Node& root, const Config& c) {
  if (!c.batches.enabled) return;
  const YAML::Node n = root["batches"];
  if (c.cluster.enabled && !c.batches.sqlite_path.empty()) {
    r.error(n["sqlite_path"], "batches.sqlite_path",
            "not used with a cluster section: the replicas keep jobs in cluster.store; remove it");
  } else if (!c.cluster.enabled && c.batches.sqlite_path.empty()) {
    r.error(n, "batches.sqlite_path",
            "required: where bulk jobs and their results are kept (or a cluster section, for "
            "a store the replicas share)");
  }
}

/// A partner's webhook: its secret, and what it needs from the other sections.
void check_webhook(YamlReader& r, const YAML::Node& root, Config& c, std::size_t i) {
  auto& p = c.partners[i];
  const YAML::Node w = root["partners"][i]["webhook"];
  const std::string path = "partners[" + std::to_string(i) + "].webhook";
  read_secret(r, w, path, "secret", p.webhook.secret);
  const auto url = util::parse_http_url(p.webhook.url, "the webhook URL");
  if (p.webhook.url.empty()) {
    r.error(w, path + ".url", "required: where the partner's server takes deliveries");
  } else if (const auto* why = std::get_if<std::string>(&url)) {
    r.error(w["url"], path + ".url", *why);
  } else if (!std::get<util::HttpUrl>(url).tls && !std::get<util::HttpUrl>(url).loopback()) {
    r.error(w["url"], path + ".url",
            "must be https: deliveries carry citizens' data (plain http only to a loopback "
            "address)");
  }
  if (p.webhook.secret.size() < 32) {
    r.error(w, path + ".secret_file",
            "required: a shared secret of at least 32 characters to sign deliveries with "
            "(`lgsp keys secret FILE` writes one)");
  }
  if (p.webhook.purpose.empty()) {
    r.error(w, path + ".purpose", "required: the purpose deliveries are made under");
  } else if (!p.purposes.empty() && !p.purposes.contains(p.webhook.purpose)) {
    r.error(w["purpose"], path + ".purpose", "not one of the partner's purposes");
  } else if (c.consents.purposes.contains(p.webhook.purpose)) {
    r.error(w["purpose"], path + ".purpose",
            "needs the citizen's consent, which a feed of many citizens cannot carry");
  }
  if (p.changes.empty()) r.error(w, path, "the partner is granted no kind of change (changes)");
  if (c.cluster.enabled) {
    r.error(w, path,
            "not with a cluster section: each replica keeps its own copy of the feed and "
            "would deliver every change once per replica");
  }
}

/// Checks that need several sections at once.
void cross_check(YamlReader& r, const YAML::Node& root, Config& c) {
  check_credentials_unique(r, root, c);
  // Serving partners without an audit trail is for benchmarks on one machine only.
  if (!c.audit.enabled && !c.gateway.listen.is_loopback()) {
    r.error(root["audit"]["enabled"], "audit.enabled",
            "false is only allowed while gateway.listen is a loopback address (benchmarks): "
            "partners are never served from " +
                c.gateway.listen.to_string() + " without an audit trail");
  }
  const bool tls = c.gateway.tls.enabled();
  if (!tls && !c.gateway.listen.is_loopback()) {
    r.error(root["gateway"]["listen"], "gateway.listen",
            "plain HTTP is only allowed on a loopback address; configure gateway.tls (cert_file, "
            "key_file) to listen on " +
                c.gateway.listen.to_string());
  }
  for (std::size_t i = 0; i < c.partners.size(); ++i) {
    const auto& p = c.partners[i];
    const YAML::Node at = root["partners"][i];
    const std::string path = "partners[" + std::to_string(i) + "]";
    if ((!p.client_cert_sha256.empty() || !p.client_cert_subjects.empty()) &&
        c.gateway.tls.client_ca_file.empty()) {
      r.error(at, path + ".client_cert_sha256",
              "client certificates need gateway.tls.client_ca_file (the CA they must chain to)");
    }
    if (!p.oauth_client_ids.empty() && !c.auth.jwt.enabled()) {
      r.error(at, path + ".oauth_client_ids", "OAuth2 client ids need auth.jwt to be configured");
    }
    // A published demo key must never be reachable from another machine.
    if (p.demo && !c.gateway.listen.is_loopback()) {
      r.error(at, path + ".demo",
              "demo partner \"" + p.id +
                  "\" has a published key and is refused while gateway.listen (" +
                  c.gateway.listen.to_string() +
                  ") is not a loopback address; remove it or listen on 127.0.0.1");
    }
  }
  check_batch_store(r, root, c);
  check_procedures(r, root, c);
  for (std::size_t i = 0; i < c.partners.size(); ++i) {
    // Not a mapping: already reported where the partner was read.
    const YAML::Node w = root["partners"][i]["webhook"];
    if (w && w.IsMap()) check_webhook(r, root, c, i);
  }
  if (!c.changes.enabled) {
    const YAML::Node partners = root["partners"];
    for (std::size_t i = 0; i < c.partners.size(); ++i) {
      if (!c.partners[i].changes.empty()) {
        r.error(partners[i]["changes"], "partners[" + std::to_string(i) + "].changes",
                "change feed grants need the changes section (changes.sqlite_path)");
      }
    }
  }
  if (c.consents.enabled && c.cluster.enabled && c.consents.store.backend != "postgres") {
    r.error(root["consents"]["store"], "consents.store.backend",
            "must be postgres with a cluster section: a revocation recorded through one replica "
            "must hold at every other");
  }
  if (c.consents.enabled && !c.audit.enabled) {
    r.error(root["consents"], "consents",
            "needs the audit trail (audit): every grant, revocation and access under a consent "
            "is audited");
  }
  if (c.cluster.enabled && root["gateway"] && root["gateway"]["instance"]) {
    r.error(root["gateway"]["instance"], "gateway.instance",
            "not used with a cluster section: each replica leases a reply partition from "
            "cluster.store; remove it");
  }
  if (root["audit"] && c.audit.enabled && c.audit.store.backend == "sqlite" &&
      c.audit.store.sqlite_path.empty()) {
    r.error(root["audit"], "audit.store", "required: where the audit chain is kept");
  }
}

Config parse_node(const YAML::Node& root, const std::string& name) {
  YamlReader r(name);
  Config c;
  c.path = name;
  if (root.IsNull()) {
    throw ConfigError({name + ": the file is empty"});
  }
  if (r.check_map(root, "",
                  {"kafka", "gateway", "connector", "registries", "partners", "auth", "audit",
                   "batches", "cluster", "procedures", "changes", "consents", "seed", "logging"})) {
    if (root["kafka"]) read_kafka(r, root["kafka"], c.kafka);
    if (root["gateway"]) read_gateway(r, root["gateway"], c.gateway);
    if (root["connector"]) read_connector(r, root["connector"], c.connector);
    if (root["registries"]) read_registries(r, root["registries"], c.registries);
    // Before the partners: their grants may name a procedure.
    if (root["procedures"]) read_procedures(r, root["procedures"], c.procedures);
    if (root["partners"]) read_partners(r, root["partners"], c.partners, c.procedures);
    if (const auto s = root["seed"]; s && r.check_map(s, "seed", {"citizens", "seed"})) {
      r.get(s, "seed", "citizens", c.seed.citizens, 1, 200000000);
      r.get(s, "seed", "seed", c.seed.seed, 0, INT64_MAX);
    }
    if (const auto l = root["logging"]; l && r.check_map(l, "logging", {"level"})) {
      r.get(l, "logging", "level", c.log_level);
      static const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error"};
      if (!kLevels.contains(c.log_level)) {
        r.error(l["level"], "logging.level", "expected one of trace, debug, info, warn, error");
      }
    }
    if (root["auth"]) read_auth(r, root["auth"], c.auth);
    if (root["audit"]) read_audit(r, root["audit"], c.audit);
    if (root["batches"]) read_batches(r, root["batches"], c.batches);
    if (root["cluster"]) read_cluster(r, root["cluster"], c.cluster);
    if (root["changes"]) read_changes(r, root["changes"], c.changes);
    if (root["consents"]) read_consents(r, root["consents"], c.consents);
    cross_check(r, root, c);
  }
  if (!r.errors().empty()) throw ConfigError(r.errors());
  return c;
}

}  // namespace

bool Endpoint::is_loopback() const {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const auto addr = boost::asio::ip::make_address(host, ec);
  return !ec && addr.is_loopback();
}

ConfigError::ConfigError(std::vector<std::string> errors)
    : std::runtime_error(join_lines(errors)), errors_(std::move(errors)) {}

Config parse_config(const std::string& yaml_text, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError({name + ":" + std::to_string(e.mark.line + 1) + ":" +
                       std::to_string(e.mark.column + 1) + ": YAML syntax: " + e.msg});
  }
  return parse_node(root, name);
}

Config load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError({path + ": cannot open the file (check the --config path)"});
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

}  // namespace lgsp::config
