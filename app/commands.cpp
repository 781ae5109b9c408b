#include "app/commands.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <system_error>
#include <thread>

#include "app/batch_cli.hpp"
#include "audit/chain.hpp"
#include "audit/writer.hpp"
#include "bus/client_properties.hpp"
#include "config/config.hpp"
#include "connectors/connector.hpp"
#include "gateway/gateway.hpp"
#include "http/admin_handler.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"
#include "observability/thread_name.hpp"
#include "registries/table.hpp"
#include "seed/seeder.hpp"
#include "util/files.hpp"
#include "util/hashing.hpp"
#include "util/sealing.hpp"
#include "util/signing.hpp"

namespace lgsp::app {

sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int wait_for_signal(const sigset_t& set, const std::function<void()>& on_reload) {
  for (;;) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig == SIGHUP) {
      obs::info("signal_received", {{"signal", "SIGHUP"}});
      if (on_reload) on_reload();
      continue;
    }
    obs::info("signal_received", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
    return sig;
  }
}

namespace {

config::Config load(const std::string& path) {
  config::Config cfg = config::load_config(path);
  obs::init_logging("lgsp", cfg.log_level);
  return cfg;
}

}  // namespace

std::unique_ptr<audit::AuditStore> open_audit_store(const config::Config& cfg) {
  return audit::open_audit_store(cfg.audit.store, cfg.path);
}

audit::WriterOptions audit_writer_options(const config::Config& cfg, const std::string& bootstrap) {
  audit::WriterOptions o;
  o.consumer_properties =
      bus::audit_consumer_properties(cfg.kafka, cfg.audit, bootstrap, "lgsp-audit-writer");
  o.topic = bus::Topics{cfg.kafka.topic_prefix}.audit();
  o.sealer = bus::envelope_sealer(cfg.kafka, {"audit"});
  if (cfg.audit.signing_key.empty()) {
    throw std::runtime_error(cfg.path +
                             ": audit.signing_key_file (or _env) is required for the audit "
                             "writer: it signs the chain head so that a rewritten chain shows "
                             "(`lgsp keys signing PRIVATE PUBLIC` makes a key pair)");
  }
  o.signer = std::make_shared<const util::Ed25519Signer>(cfg.audit.signing_key);
  return o;
}

namespace {

/// A process that holds secrets (the audit subject key, TLS keys, database passwords) leaves
/// no core file behind: a crash must not write them to disk. Also keeps other users' ptrace
/// out. `lgsp dev` is left debuggable (a developer's machine, and the tests attach gdb to it
/// when it hangs).
void forbid_core_dumps() {
  const rlimit none{0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    obs::warn("core_dumps_not_disabled",
              {{"error", std::error_code(errno, std::generic_category()).message()}});
  }
}

int run_gateway(const std::string& config_path) {
  forbid_core_dumps();
  const auto cfg = load(config_path);
  if (!cfg.audit.signing_key.empty()) {
    // Whoever holds it can vouch for a rewritten chain: only the audit writer may.
    std::cerr << config_path
              << ": audit.signing_key_file is set: the gateway must not hold the audit "
                 "writer's signing key (give it audit.verify_key_file only, if anything)\n";
    return 2;
  }
  const sigset_t signals = block_stop_signals();
  obs::Metrics metrics("gateway");
  gateway::Gateway gw(cfg, bus::resolve_bootstrap(cfg.kafka), metrics);
  gw.start();
  wait_for_signal(signals, [&gw] { gw.reload(); });
  gw.stop();
  return 0;
}

/// An admin port (metrics, health, readiness) served by one thread until the object dies.
class AdminPort {
 public:
  AdminPort(const config::Endpoint& at, obs::Metrics& metrics,
            http::AdminHandler::ReadinessCheck ready)
      : server_(ioc_, at, http::ServerLimits{},
                std::make_shared<http::AdminHandler>(metrics, std::move(ready))) {
    server_.start();
    thread_ = std::thread([this] {
      obs::name_this_thread("lgsp-admin");
      ioc_.run();
    });
    obs::info("admin_listening", {{"admin", at.host + ":" + std::to_string(server_.port())}});
  }
  ~AdminPort() {
    server_.stop();
    ioc_.stop();
    thread_.join();
  }
  AdminPort(const AdminPort&) = delete;
  AdminPort& operator=(const AdminPort&) = delete;

 private:
  boost::asio::io_context ioc_;
  http::Server server_;
  std::thread thread_;
};

int run_audit_writer(const std::string& config_path) {
  forbid_core_dumps();
  const auto cfg = load(config_path);
  const sigset_t signals = block_stop_signals();
  obs::Metrics metrics("audit-writer");
  audit::AuditWriter writer(audit_writer_options(cfg, bus::resolve_bootstrap(cfg.kafka)),
                            open_audit_store(cfg), metrics);
  const AdminPort admin(cfg.audit.writer_admin_listen, metrics,
                        [&writer] { return writer.readiness(); });
  writer.start();
  wait_for_signal(signals);
  writer.stop();
  return 0;
}

/// `lgsp audit verify`: walks the chain; exit 0 intact, 1 broken (with the first fault).
int run_audit_verify(const std::string& config_path, const std::string& expect_head,
                     std::int64_t expect_count, const std::string& verify_key_file) {
  const auto cfg = config::load_config(config_path);
  const auto store = audit::open_audit_store(cfg.audit.store, cfg.path, audit::Access::kReadOnly);
  audit::ExpectedHead expected;
  expected.hash = expect_head;
  expected.records = expect_count;
  std::string pem = cfg.audit.verify_key;
  if (!verify_key_file.empty()) {
    std::ifstream in(verify_key_file);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) throw std::runtime_error("cannot read " + verify_key_file);
    pem = text.str();
  }
  std::unique_ptr<util::Ed25519Verifier> key;
  if (pem.empty()) {
    std::cerr << "no audit.verify_key_file (or --verify-key): only the chain's own consistency "
                 "is checked, which anyone who can write the database can arrange\n";
  } else {
    key = std::make_unique<util::Ed25519Verifier>(pem);
  }
  const audit::VerifyReport report = audit::verify_chain(*store, expected, key.get());
  std::cout << boost::json::serialize(boost::json::object{{"ok", report.ok},
                                                          {"records", report.records},
                                                          {"head_hash", report.head_hash},
                                                          {"first_bad_seq", report.first_bad_seq},
                                                          {"problem", report.problem}})
            << "\n";
  if (report.ok) {
    std::cerr
        << "audit chain intact: " << report.records << " records, head " << report.head_hash
        << "\n(note the head: a later `--expect-head` run detects removal of newer records)\n";
    return 0;
  }
  std::cerr << "AUDIT CHAIN BROKEN: " << report.problem << "\n";
  return 1;
}

int run_connector(const std::string& config_path, const std::string& registry) {
  const auto cfg = load(config_path);
  const sigset_t signals = block_stop_signals();
  obs::Metrics metrics("connector");
  connectors::Connector connector(cfg, registry, bus::resolve_bootstrap(cfg.kafka), metrics);
  boost::asio::io_context ioc;
  http::Server admin(
      ioc, cfg.connector.admin_listen, http::ServerLimits{},
      std::make_shared<http::AdminHandler>(metrics, [&] { return connector.readiness(); }));
  admin.start();
  std::thread admin_thread([&] { ioc.run(); });
  connector.start();
  obs::info("connector_admin_listening",
            {{"admin", cfg.connector.admin_listen.host + ":" + std::to_string(admin.port())}});
  wait_for_signal(signals);
  connector.stop();
  admin.stop();
  ioc.stop();
  admin_thread.join();
  return 0;
}

/// N subjects per configured registry, as flat JSON lines a script (or a person) can use.
void print_samples(const seed::SeedTargets& t, std::int64_t n) {
  for (const registries::Module* module : registries::modules()) {
    const auto it = t.find(std::string(module->catalogue().name));
    if (it == t.end()) continue;
    for (const auto& o : module->samples(it->second, n))
      std::cout << boost::json::serialize(o) << "\n";
  }
}

/// "100000 population, 93012 insurance, ..." rows.
std::string describe_rows(const seed::SeedReport& report) {
  std::string out;
  for (const auto& [name, rows] : report.rows)
    out += (out.empty() ? "" : ", ") + std::to_string(rows) + " " + name;
  return out;
}

int run_seed(const std::string& config_path, std::int64_t citizens, std::int64_t samples,
             bool force) {
  const auto cfg = load(config_path);
  const seed::SeedTargets targets = seed::targets_from(cfg);
  if (targets.empty()) {
    std::cerr << config_path << ": no registries are configured (registries: "
              << "known " << registries::known_names() << ")\n";
    return 2;
  }
  // --samples alone reads the existing registries; seeding happens when asked or needed.
  if (force || citizens > 0 || seed::any_missing(targets)) {
    const std::int64_t n = citizens > 0 ? citizens : cfg.seed.citizens;
    std::cerr << "seeding " << n << " citizens (seed " << cfg.seed.seed << ")\n";
    const auto report = seed::seed_registries(targets, n, static_cast<std::uint64_t>(cfg.seed.seed),
                                              [](std::int64_t done) {
                                                if (done % 1000000 == 0)
                                                  std::cerr << "  " << done << " citizens\n";
                                              });
    std::cerr << "seeded " << report.citizens << " citizens (rows: " << describe_rows(report)
              << ") in " << report.seconds << " s ("
              << static_cast<std::int64_t>(static_cast<double>(report.citizens) / report.seconds)
              << " citizens/s)\n";
  }
  if (samples > 0) print_samples(targets, samples);
  return 0;
}

int write_secret(const std::string& file) {
  if (std::filesystem::exists(file)) {
    std::cerr << file << " exists; left as it is\n";
    return 0;
  }
  if (const auto dir = std::filesystem::path(file).parent_path(); !dir.empty())
    std::filesystem::create_directories(dir);
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("no randomness from OpenSSL");
  util::write_new_file(file, util::to_hex(raw, sizeof raw), 0600);
  std::cerr << "wrote a new random secret to " << file << "\n";
  return 0;
}

/// `lgsp keys bus DIR DOMAIN...`: a key for each domain that has none in DIR (or a new one
/// beside the old with --rotate), named by the UTC time so the newest sorts last.
int write_bus_keys(const std::string& dir, std::vector<std::string> domains, bool rotate) {
  if (domains.empty()) {
    for (const registries::Module* m : registries::modules())
      domains.emplace_back(m->catalogue().name);
    domains.emplace_back("audit");
  }
  const util::SealKeys existing =
      std::filesystem::is_directory(dir) ? util::read_seal_keys(dir) : util::SealKeys{};
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::array<char, 16> id{};
  std::strftime(id.data(), id.size(), "%Y%m%d%H%M%S", &utc);
  for (const auto& domain : domains) {
    if (existing.contains(domain) && !rotate) {
      std::cerr << dir << " has a key for " << domain << "; left as it is (--rotate adds one)\n";
      continue;
    }
    std::cerr << "wrote " << util::write_seal_key(dir, domain, id.data()) << "\n";
  }
  return 0;
}

/// `lgsp keys signing PRIVATE PUBLIC`: the audit writer's Ed25519 key pair.
int write_signing_keys(const std::string& private_file, const std::string& public_file) {
  for (const auto& f : {private_file, public_file}) {
    if (const auto dir = std::filesystem::path(f).parent_path(); !dir.empty())
      std::filesystem::create_directories(dir);
  }
  util::write_ed25519_key_pair(private_file, public_file);
  std::cerr << "wrote the audit signing key " << private_file << " (the audit writer's only) and "
            << "its public key " << public_file << "\n";
  return 0;
}

/// `lgsp keys init --config F`: every secret file F names that does not exist yet, for a dev
/// or test profile (production keys come from the operator's own ceremony, docs/deploy.md).
/// Reads F as plain YAML: F does not load until they exist.
int init_keys(const std::string& config_path) {
  const YAML::Node root = YAML::LoadFile(config_path);
  const auto path_at = [&](const char* section, const char* key) {
    const YAML::Node n = root[section][key];
    return n && n.IsScalar() ? n.as<std::string>() : std::string();
  };
  if (const auto f = path_at("audit", "subject_key_file"); !f.empty()) write_secret(f);
  if (const auto dir = path_at("kafka", "envelope_keys_dir"); !dir.empty())
    write_bus_keys(dir, {}, false);
  const auto private_file = path_at("audit", "signing_key_file");
  const auto public_file = path_at("audit", "verify_key_file");
  if (!private_file.empty() && !std::filesystem::exists(private_file)) {
    if (public_file.empty() || std::filesystem::exists(public_file)) {
      throw std::runtime_error("cannot make " + private_file +
                               ": its public key needs a new file (audit.verify_key_file)");
    }
    write_signing_keys(private_file, public_file);
  }
  return 0;
}

std::string random_key() {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("no randomness from OpenSSL");
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string key = "lgsp_";
  for (unsigned char b : raw) key += kAlphabet[b % 62];
  return key;
}

/// The registry table's names, for --registry.
std::vector<std::string> registry_names() {
  std::vector<std::string> names;
  for (const registries::Module* m : registries::modules()) names.emplace_back(m->catalogue().name);
  return names;
}

/// `lgsp registries`: the registry table, for operators, the docs and the Helm chart's check
/// (which compares the chart's schema with it).
int print_registries(bool as_json) {
  namespace json = boost::json;
  json::array out;
  for (const registries::Module* m : registries::modules()) {
    const auto& c = m->catalogue();
    const auto list = [](std::span<const std::string_view> items) {
      json::array a;
      for (auto s : items) a.emplace_back(s);
      return a;
    };
    json::array backends{"sqlite", "postgres"};
    if (!m->upstream_shape().columns.empty()) backends.emplace_back("upstream");
    // "name(arg, …) undo: other" for each command the registry accepts.
    json::array commands;
    for (const auto& cmd : c.commands) {
      std::string line = std::string(cmd.name) + "(";
      for (std::size_t i = 0; i < cmd.args.size(); ++i)
        line += (i > 0 ? ", " : "") + std::string(cmd.args[i].name);
      line += ")";
      if (!cmd.undo.empty()) line += " undo:" + std::string(cmd.undo);
      commands.emplace_back(line);
    }
    out.push_back(json::object{{"name", c.name},
                               {"title", c.title},
                               {"operations", list(c.operations)},
                               {"subject_keys", list(c.subject_keys)},
                               {"claims", list(c.claims)},
                               {"fields", list(c.fields)},
                               {"backends", std::move(backends)},
                               {"commands", std::move(commands)}});
  }
  if (as_json) {
    std::cout << json::serialize(out) << "\n";
    return 0;
  }
  for (const auto& v : out) {
    const auto& o = v.as_object();
    std::cout << std::string_view(o.at("name").as_string()) << ": "
              << std::string_view(o.at("title").as_string()) << "\n";
    for (const char* key :
         {"operations", "subject_keys", "claims", "fields", "backends", "commands"}) {
      std::cout << "  " << key << ":";
      for (const auto& item : o.at(key).as_array())
        std::cout << " " << std::string_view(item.as_string());
      std::cout << "\n";
    }
  }
  return 0;
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"lgsp: the LGSP data-sharing gateway, its registry connectors and tools"};
  app.set_version_flag("--version", std::string("lgsp ") + std::string(obs::version()));
  app.require_subcommand(1);
  std::string config_path = "config/dev.yaml";

  auto* gw = app.add_subcommand("gateway", "Run the HTTP gateway (partners' front door)");
  gw->add_option("-c,--config", config_path, "YAML configuration file")->capture_default_str();

  std::string registry;
  auto* conn =
      app.add_subcommand("connector", "Run a registry connector (a consumer-group member)");
  conn->add_option("-c,--config", config_path, "YAML configuration file")->capture_default_str();
  conn->add_option("-r,--registry", registry, "Registry to serve")
      ->required()
      ->check(CLI::IsMember(registry_names()));

  std::int64_t citizens = 0, samples = 0;
  bool force = false;
  auto* seed_cmd =
      app.add_subcommand("seed", "Create the synthetic registry, and/or print sample subjects");
  seed_cmd->add_option("-c,--config", config_path, "YAML configuration file")
      ->capture_default_str();
  seed_cmd->add_option("--citizens", citizens, "How many citizens (default: seed.citizens)")
      ->check(CLI::Range(1LL, 200000000LL));
  seed_cmd->add_option("--samples", samples, "Print N existing subjects as JSON lines")
      ->check(CLI::Range(0LL, 1000000LL));
  seed_cmd->add_flag("--force", force, "Re-create the registry even if it exists");

  auto* dev = app.add_subcommand("dev",
                                 "Run everything in one process: embedded Kafka-protocol cluster, "
                                 "seeded registry, connectors, gateway");
  dev->add_option("-c,--config", config_path, "YAML configuration file")->capture_default_str();

  auto* broker = app.add_subcommand(
      "broker",
      "Run the embedded Kafka-protocol cluster alone (tests and demos; kafka.bootstrap: embedded)");
  broker->add_option("-c,--config", config_path, "YAML configuration file")->capture_default_str();

  std::string partner;
  bool registries_json = false;
  auto* regs = app.add_subcommand(
      "registries",
      "Print the registry table: operations, subject keys, claims, fields and commands");
  regs->add_flag("--json", registries_json, "One JSON array, for scripts");

  auto* keys = app.add_subcommand("keys", "API key tools");
  keys->require_subcommand(1);
  auto* keys_new = keys->add_subcommand(
      "new", "Print a fresh random API key once, and the hash line for the config");
  keys_new->add_option("--partner", partner, "Partner id the key is for")->required();
  auto* keys_hash = keys->add_subcommand(
      "hash", "Read a key on standard input and print its SHA-256 for api_key_sha256");
  std::string secret_file;
  auto* keys_secret = keys->add_subcommand(
      "secret", "Write a random secret (e.g. audit.subject_key_file) to FILE unless it exists");
  keys_secret->add_option("file", secret_file, "Where to write it (mode 0600)")->required();

  std::string bus_keys_dir;
  std::vector<std::string> bus_key_domains;
  bool bus_keys_rotate = false;
  auto* keys_bus = keys->add_subcommand(
      "bus", "Write envelope sealing keys (kafka.envelope_keys_dir): one per domain that has none");
  keys_bus->add_option("dir", bus_keys_dir, "The key directory")->required();
  keys_bus->add_option("domains", bus_key_domains,
                       "Registries, and audit (default: every registry module, and audit)");
  keys_bus->add_flag("--rotate", bus_keys_rotate,
                     "Add a new key even where one exists (docs/operations.md: key rotation)");

  std::string signing_private, signing_public;
  auto* keys_signing =
      keys->add_subcommand("signing",
                           "Write the audit writer's Ed25519 key pair (audit.signing_key_file, "
                           "audit.verify_key_file)");
  keys_signing->add_option("private", signing_private, "The private key (mode 0600)")->required();
  keys_signing->add_option("public", signing_public, "The public key")->required();
  auto* keys_init = keys->add_subcommand(
      "init", "Create every secret file a (dev or test) config names that does not exist yet");
  keys_init->add_option("-c,--config", config_path, "YAML configuration file")
      ->capture_default_str();

  auto* audit_cmd = app.add_subcommand("audit", "The audit trail: writer process and verifier");
  audit_cmd->require_subcommand(1);
  auto* audit_writer = audit_cmd->add_subcommand(
      "writer", "Consume the audit topic and append the events to the hash chain");
  audit_writer->add_option("-c,--config", config_path, "YAML configuration file")
      ->capture_default_str();
  std::string expect_head;
  std::int64_t expect_count = 0;
  auto* audit_verify = audit_cmd->add_subcommand(
      "verify",
      "Check the audit hash chain: exit 0 if intact, 1 at the first altered, removed "
      "or reordered record");
  audit_verify->add_option("-c,--config", config_path, "YAML configuration file")
      ->capture_default_str();
  audit_verify->add_option("--expect-head", expect_head,
                           "Head hash noted earlier: detects removal of the newest records");
  audit_verify->add_option("--expect-count", expect_count, "Record count noted earlier")
      ->check(CLI::NonNegativeNumber);
  std::string verify_key_file;
  audit_verify->add_option("--verify-key", verify_key_file,
                           "The audit writer's public key (PEM), instead of audit.verify_key_file");

  BatchCommands batch(app);  // `lgsp batch submit|watch|results|cancel`

  for (CLI::App* sub :
       {gw, conn, seed_cmd, dev, broker, regs, keys, keys_new, keys_hash, keys_secret, keys_bus,
        keys_signing, keys_init, audit_cmd, audit_writer, audit_verify}) {
    sub->set_version_flag("--version", std::string("lgsp ") + std::string(obs::version()));
  }
  CLI11_PARSE(app, argc, argv);
  try {
    if (const auto code = batch.run()) return *code;
    if (*gw) return run_gateway(config_path);
    if (*conn) return run_connector(config_path, registry);
    if (*seed_cmd) return run_seed(config_path, citizens, samples, force);
    if (*dev) return run_dev(config_path.c_str());
    if (*broker) return run_broker(config_path);
    if (*regs) return print_registries(registries_json);
    if (*keys_new) {
      const std::string key = random_key();
      std::cout << "API key for partner " << partner << " (shown once; give it to the partner):\n  "
                << key << "\nAdd under partners[id=" << partner << "].api_key_sha256:\n  - "
                << util::sha256_hex(key) << "\n";
      return 0;
    }
    if (*audit_writer) return run_audit_writer(config_path);
    if (*audit_verify)
      return run_audit_verify(config_path, expect_head, expect_count, verify_key_file);
    if (*keys_secret) return write_secret(secret_file);
    if (*keys_bus) return write_bus_keys(bus_keys_dir, bus_key_domains, bus_keys_rotate);
    if (*keys_signing) return write_signing_keys(signing_private, signing_public);
    if (*keys_init) return init_keys(config_path);
    if (*keys_hash) {
      std::string key;
      std::getline(std::cin, key);
      std::cout << util::sha256_hex(key) << "\n";
      return 0;
    }
  } catch (const config::ConfigError& e) {
    std::cerr << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "lgsp: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace lgsp::app
