#include "config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "config/yaml_reader.hpp"
#include "domain/catalog.hpp"

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
    if (!it->second.IsScalar()) {
      r.error(it->second, p + "." + it->first.Scalar(), "expected a scalar value");
      continue;
    }
    out.emplace_back(it->first.Scalar(), it->second.Scalar());
  }
}

void read_kafka(YamlReader& r, const YAML::Node& n, KafkaConfig& k) {
  const std::string path = "kafka";
  if (!r.check_map(
          n, path,
          {"bootstrap", "embedded_brokers", "bootstrap_file", "topic_prefix", "request_partitions",
           "reply_partitions", "properties", "producer_properties", "consumer_properties"})) {
    return;
  }
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
}

void read_gateway(YamlReader& r, const YAML::Node& n, GatewayConfig& g) {
  const std::string path = "gateway";
  if (!r.check_map(n, path,
                   {"listen", "admin_listen", "threads", "instance", "body_limit_bytes",
                    "header_limit_bytes", "read_timeout_ms", "idle_timeout_ms",
                    "request_deadline_ms", "max_pending"})) {
    return;
  }
  read_endpoint(r, n, path, "listen", g.listen);
  read_endpoint(r, n, path, "admin_listen", g.admin_listen);
  r.get(n, path, "threads", g.threads, 0, 256);
  r.get(n, path, "instance", g.instance, 0, 1023);
  r.get(n, path, "body_limit_bytes", g.body_limit_bytes, 256, 64LL << 20);
  r.get(n, path, "header_limit_bytes", g.header_limit_bytes, 1024, 1 << 20);
  r.get(n, path, "read_timeout_ms", g.read_timeout_ms, 10, 3600000);
  r.get(n, path, "idle_timeout_ms", g.idle_timeout_ms, 10, 3600000);
  r.get(n, path, "request_deadline_ms", g.request_deadline_ms, 10, 600000);
  r.get(n, path, "max_pending", g.max_pending, 1, 10000000);
}

void read_connector(YamlReader& r, const YAML::Node& n, ConnectorConfig& c) {
  const std::string path = "connector";
  if (!r.check_map(n, path, {"admin_listen", "group_id_prefix"})) return;
  read_endpoint(r, n, path, "admin_listen", c.admin_listen);
  r.get(n, path, "group_id_prefix", c.group_id_prefix);
}

void read_registries(YamlReader& r, const YAML::Node& n,
                     std::map<std::string, RegistryConfig>& out) {
  if (!n.IsMap())
    return r.error(n, "registries", "expected a mapping of registry name to settings");
  for (auto it = n.begin(); it != n.end(); ++it) {
    const std::string name = it->first.Scalar();
    const std::string path = "registries." + name;
    if (!domain::is_registry(name)) {
      r.error(it->first, path, "unknown registry (known: population, insurance, vehicle)");
      continue;
    }
    const YAML::Node& v = it->second;
    if (!r.check_map(v, path,
                     {"backend", "sqlite_path", "postgres_dsn", "postgres_dsn_env", "pool_size"})) {
      continue;
    }
    RegistryConfig rc;
    r.get(v, path, "backend", rc.backend);
    r.get(v, path, "sqlite_path", rc.sqlite_path);
    r.get(v, path, "postgres_dsn", rc.postgres_dsn);
    r.get(v, path, "postgres_dsn_env", rc.postgres_dsn_env);
    r.get(v, path, "pool_size", rc.pool_size, 1, 64);
    if (rc.backend == "sqlite") {
      if (rc.sqlite_path.empty())
        r.error(v, path + ".sqlite_path", "required when backend is sqlite");
    } else if (rc.backend == "postgres") {
      if (rc.postgres_dsn.empty() && rc.postgres_dsn_env.empty()) {
        r.error(v, path + ".postgres_dsn",
                "postgres_dsn or postgres_dsn_env is required when backend is postgres");
      } else if (!rc.postgres_dsn_env.empty() && env(rc.postgres_dsn_env) == nullptr) {
        r.error(v["postgres_dsn_env"], path + ".postgres_dsn_env",
                "environment variable " + rc.postgres_dsn_env + " is not set");
      }
    } else {
      r.error(v["backend"], path + ".backend",
              "unsupported backend \"" + rc.backend + "\" (supported: sqlite, postgres)");
    }
    out[name] = rc;
  }
}

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

void read_partners(YamlReader& r, const YAML::Node& n, std::vector<PartnerConfig>& out) {
  if (!n.IsSequence()) return r.error(n, "partners", "expected a list of partners");
  std::set<std::string> ids;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const YAML::Node& p = n[i];
    const std::string path = "partners[" + std::to_string(i) + "]";
    if (!r.check_map(p, path,
                     {"id", "name", "api_key_sha256", "operations", "fields", "demo",
                      "name_matching", "required_grade"})) {
      continue;
    }
    PartnerConfig pc;
    r.get(p, path, "id", pc.id);
    r.get(p, path, "name", pc.name);
    r.get(p, path, "api_key_sha256", pc.api_key_sha256);
    r.get(p, path, "demo", pc.demo);
    r.get(p, path, "name_matching", pc.name_matching);
    if (pc.name_matching != "strict" && pc.name_matching != "diacritic-insensitive") {
      r.error(p["name_matching"], path + ".name_matching",
              "expected strict or diacritic-insensitive");
    }
    r.get(p, path, "required_grade", pc.required_grade);
    if (pc.required_grade != "exact" && pc.required_grade != "partial") {
      r.error(p["required_grade"], path + ".required_grade", "expected exact or partial");
    }
    if (pc.id.empty()) r.error(p, path + ".id", "required");
    if (!ids.insert(pc.id).second)
      r.error(p["id"], path + ".id", "duplicate partner id \"" + pc.id + "\"");
    for (std::size_t k = 0; k < pc.api_key_sha256.size(); ++k) {
      if (!is_sha256_hex(pc.api_key_sha256[k])) {
        r.error(
            p["api_key_sha256"][k], path + ".api_key_sha256[" + std::to_string(k) + "]",
            "expected 64 lower-case hex digits (sha256sum of the key; `lgsp keys hash` prints it)");
      }
    }
    std::vector<std::string> ops;
    r.get(p, path, "operations", ops);
    for (std::size_t k = 0; k < ops.size(); ++k) {
      const auto dot = ops[k].find('.');
      const auto* reg =
          dot == std::string::npos ? nullptr : domain::find_registry(ops[k].substr(0, dot));
      if (reg == nullptr || !domain::has_operation(*reg, ops[k].substr(dot + 1))) {
        r.error(p["operations"][k], path + ".operations[" + std::to_string(k) + "]",
                "unknown operation \"" + ops[k] +
                    "\" (expected registry.operation, e.g. population.verify)");
        continue;
      }
      pc.operations.insert(ops[k]);
    }
    const YAML::Node f = p["fields"];
    if (f) {
      if (!f.IsMap()) {
        r.error(f, path + ".fields", "expected a mapping of registry to a list of fields");
      } else {
        for (auto it = f.begin(); it != f.end(); ++it) {
          const std::string reg_name = it->first.Scalar();
          const auto* reg = domain::find_registry(reg_name);
          const std::string fpath = path + ".fields." += reg_name;
          if (!domain::is_registry(reg_name)) {
            r.error(it->first, fpath, "unknown registry");
            continue;
          }
          std::vector<std::string> names;
          r.get(f, path + ".fields", reg_name, names);
          for (std::size_t k = 0; k < names.size(); ++k) {
            if (!domain::has_field(*reg, names[k])) {
              r.error(it->second[k], fpath + "[" + std::to_string(k) + "]",
                      "unknown field \"" + names[k] + "\" of registry " + reg_name);
              continue;
            }
            pc.fields[reg_name].insert(names[k]);
          }
        }
      }
    }
    out.push_back(std::move(pc));
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
                  {"kafka", "gateway", "connector", "registries", "partners", "seed", "logging"})) {
    if (root["kafka"]) read_kafka(r, root["kafka"], c.kafka);
    if (root["gateway"]) read_gateway(r, root["gateway"], c.gateway);
    if (root["connector"]) read_connector(r, root["connector"], c.connector);
    if (root["registries"]) read_registries(r, root["registries"], c.registries);
    if (root["partners"]) read_partners(r, root["partners"], c.partners);
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
    // A published demo key must never be reachable from another machine.
    if (!c.gateway.listen.is_loopback()) {
      for (std::size_t i = 0; i < c.partners.size(); ++i) {
        if (c.partners[i].demo) {
          r.error(root["partners"][i], "partners[" + std::to_string(i) + "].demo",
                  "demo partner \"" + c.partners[i].id +
                      "\" has a published key and is refused while "
                      "gateway.listen (" +
                      c.gateway.listen.to_string() +
                      ") is not a loopback address; remove it or listen on 127.0.0.1");
        }
      }
    }
  }
  if (!r.errors().empty()) throw ConfigError(r.errors());
  return c;
}

}  // namespace

std::string RegistryConfig::dsn() const {
  if (!postgres_dsn_env.empty()) {
    if (const char* v = env(postgres_dsn_env)) return v;
  }
  return postgres_dsn;
}

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
