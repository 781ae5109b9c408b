#include "bus/client_properties.hpp"

#include <charconv>
#include <fstream>
#include <stdexcept>

namespace lgsp::bus {
namespace {

Properties base(const config::KafkaConfig& kafka, const std::string& bootstrap,
                const std::string& client_id, const config::Properties& role) {
  Properties p{{"bootstrap.servers", bootstrap}, {"client.id", client_id}};
  p.insert(p.end(), kafka.properties.begin(), kafka.properties.end());
  p.insert(p.end(), role.begin(), role.end());
  return p;
}

}  // namespace

std::string resolve_bootstrap(const config::KafkaConfig& kafka) {
  if (kafka.bootstrap != "embedded") return kafka.bootstrap;
  std::ifstream in(kafka.bootstrap_file);
  std::string line;
  if (!in || !std::getline(in, line) || line.empty()) {
    throw std::runtime_error("kafka.bootstrap is \"embedded\" but " + kafka.bootstrap_file +
                             " does not name a running embedded cluster; start `lgsp dev` first "
                             "or set kafka.bootstrap to your cluster's brokers");
  }
  return line;
}

std::shared_ptr<const util::Sealer> envelope_sealer(const config::KafkaConfig& kafka,
                                                    const std::vector<std::string>& needed) {
  if (kafka.envelope_keys_dir.empty()) return std::make_shared<const util::Sealer>();
  auto sealer = std::make_shared<const util::Sealer>(kafka.envelope_keys, kafka.envelope_seal_keys);
  for (const auto& domain : needed) {
    if (!sealer->has_key(domain)) {
      std::string why = "kafka.envelope_keys_dir " + kafka.envelope_keys_dir;
      why.append(" has no key for ").append(domain).append(" (a file ").append(domain);
      why.append(".<key id>; `lgsp keys bus ").append(kafka.envelope_keys_dir).append(" ");
      why.append(domain).append("` writes one, and every process that talks to ");
      why.append(domain).append(" needs the same file)");
      throw std::runtime_error(why);
    }
  }
  return sealer;
}

Properties producer_properties(const config::KafkaConfig& kafka, const std::string& bootstrap,
                               const std::string& client_id) {
  return base(kafka, bootstrap, client_id, kafka.producer_properties);
}

Properties consumer_properties(const config::KafkaConfig& kafka, const std::string& bootstrap,
                               const std::string& client_id) {
  return base(kafka, bootstrap, client_id, kafka.consumer_properties);
}

namespace {
Properties with(Properties p, const Properties& defaults, const Properties& overrides) {
  p.insert(p.end(), defaults.begin(), defaults.end());
  p.insert(p.end(), overrides.begin(), overrides.end());
  return p;
}
}  // namespace

Properties audit_consumer_properties(const config::KafkaConfig& kafka,
                                     const config::AuditConfig& audit, const std::string& bootstrap,
                                     const std::string& client_id) {
  return with(consumer_properties(kafka, bootstrap, client_id), {{"fetch.wait.max.ms", "50"}},
              audit.consumer_properties);
}

Properties at_least_once_consumer(Properties p) {
  Properties out{{"enable.auto.offset.store", "false"},
                 {"enable.auto.commit", "true"},
                 {"auto.offset.reset", "earliest"}};
  out.insert(out.end(), p.begin(), p.end());
  return out;
}

Properties with_fetch_wait_at_least(const Properties& p, int ms) {
  Properties out = p;
  for (auto it = out.rbegin(); it != out.rend(); ++it) {
    if (it->first != "fetch.wait.max.ms") continue;
    int set = 0;
    const auto [end, ec] =
        std::from_chars(it->second.data(), it->second.data() + it->second.size(), set);
    if (ec != std::errc{} || end != it->second.data() + it->second.size() || set < ms) {
      out.emplace_back("fetch.wait.max.ms", std::to_string(ms));  // later entries win
    }
    break;
  }
  return out;
}

Properties with_statistics(const Properties& p) {
  Properties out{{"statistics.interval.ms", "5000"}};
  out.insert(out.end(), p.begin(), p.end());  // later entries win
  return out;
}

}  // namespace lgsp::bus
