#include "config/partners.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>

#include "registries/commands.hpp"
#include "registries/table.hpp"

namespace lgsp::config {
namespace {

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

/// Certificate fingerprints are printed as "AB:CD:..." by openssl; accept that form too.
std::string normalise_fingerprint(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == ':') continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

void read_rate_limit(YamlReader& r, const YAML::Node& n, const std::string& path, RateLimit& out) {
  if (!r.check_map(n, path, {"requests_per_second", "burst"})) return;
  std::int64_t rps = 0;
  std::int64_t burst = 0;
  r.get(n, path, "requests_per_second", rps, 1, 10000000);
  r.get(n, path, "burst", burst, 1, 100000000);
  if (!n["requests_per_second"]) r.error(n, path + ".requests_per_second", "required");
  out.requests_per_second = static_cast<double>(rps);
  out.burst = static_cast<double>(burst > 0 ? burst : rps);
}

/// "registry.operation" known to the registry table (including citizen.profile, audit.access-log),
/// or "procedure.<name>" of a configured procedure.
bool is_operation(const std::string& op, const ProceduresConfig& procedures) {
  const auto dot = op.find('.');
  if (op.starts_with("procedure."))
    return procedures.enabled && procedures.definitions.contains(op.substr(dot + 1));
  const auto* reg =
      dot == std::string::npos ? nullptr : registries::find_catalogue(op.substr(0, dot));
  return reg != nullptr && registries::has_operation(*reg, op.substr(dot + 1));
}

/// API key hashes from a file (a mounted Secret): one per line, '#' comments allowed.
void read_key_hash_file(YamlReader& r, const YAML::Node& p, const std::string& path,
                        std::vector<std::string>& out) {
  std::string file;
  r.get(p, path, "api_key_sha256_file", file);
  if (file.empty()) return;
  std::ifstream in(file);
  if (!in)
    return r.error(p["api_key_sha256_file"], path + ".api_key_sha256_file", "cannot read " + file);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front())))
      line.erase(0, 1);
    if (line.empty()) continue;
    if (!is_sha256_hex(line)) {
      r.error(p["api_key_sha256_file"], path + ".api_key_sha256_file",
              file + " line " + std::to_string(number) +
                  ": expected 64 lower-case hex digits (the key's SHA-256)");
      continue;
    }
    out.push_back(line);
  }
}

}  // namespace

/// partners[i].changes: "<registry>.<command>" -> members of the change's data (the command's
/// arguments and results; citizen_id always comes with a change).
void read_change_grants(YamlReader& r, const YAML::Node& c, const std::string& path,
                        std::map<std::string, std::set<std::string>>& out) {
  if (!c.IsMap()) {
    return r.error(c, path, "expected a mapping of registry.command to a list of data members");
  }
  for (auto it = c.begin(); it != c.end(); ++it) {
    const std::string kind = it->first.Scalar();
    std::string kpath = path;
    kpath.append(".").append(kind);
    const registries::CommandSpec* spec = registries::find_change_kind(kind);
    if (spec == nullptr) {
      r.error(it->first, kpath,
              "unknown kind of change (expected <registry>.<command>, e.g. "
              "civil-status.record-death; `lgsp registries` lists the commands)");
      continue;
    }
    auto& members = out[kind];
    std::vector<std::string> names;
    std::vector<YAML::Node> nodes;
    r.strings(it->second, kpath, names, nodes);
    for (std::size_t k = 0; k < names.size(); ++k) {
      if (!registries::has_member(*spec, names[k]) || names[k] == "citizen_id") {
        r.error(nodes[k], kpath + "[" + std::to_string(k) + "]",
                names[k] == "citizen_id"
                    ? "citizen_id comes with every change; list the other members"
                    : "\"" + names[k] + "\" is not an argument or result of " + kind);
        continue;
      }
      members.insert(names[k]);
    }
  }
}

void read_partners(YamlReader& r, const YAML::Node& n, std::vector<PartnerConfig>& out,
                   const ProceduresConfig& procedures) {
  if (!n.IsSequence()) return r.error(n, "partners", "expected a list of partners");
  std::set<std::string> ids;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const YAML::Node& p = n[i];
    const std::string path = "partners[" + std::to_string(i) + "]";
    if (!r.check_map(p, path,
                     {"id",
                      "name",
                      "api_key_sha256",
                      "api_key_sha256_file",
                      "client_cert_sha256",
                      "client_cert_subjects",
                      "oauth_client_ids",
                      "operations",
                      "fields",
                      "demo",
                      "name_matching",
                      "required_grade",
                      "purposes",
                      "rate_limit",
                      "operation_limits",
                      "daily_quota",
                      "year_only_dates",
                      "withhold_days",
                      "changes",
                      "webhook"})) {
      continue;
    }
    PartnerConfig pc;
    r.get(p, path, "id", pc.id);
    r.get(p, path, "name", pc.name);
    r.get(p, path, "api_key_sha256", pc.api_key_sha256);
    const std::size_t inline_keys = pc.api_key_sha256.size();
    read_key_hash_file(r, p, path, pc.api_key_sha256);
    r.get(p, path, "client_cert_sha256", pc.client_cert_sha256);
    for (std::size_t k = 0; k < pc.client_cert_sha256.size(); ++k) {
      pc.client_cert_sha256[k] = normalise_fingerprint(pc.client_cert_sha256[k]);
      if (!is_sha256_hex(pc.client_cert_sha256[k])) {
        r.error(p["client_cert_sha256"][k], path + ".client_cert_sha256[" + std::to_string(k) + "]",
                "expected a SHA-256 fingerprint (openssl x509 -noout -fingerprint -sha256)");
      }
    }
    r.get(p, path, "client_cert_subjects", pc.client_cert_subjects);
    r.get(p, path, "oauth_client_ids", pc.oauth_client_ids);
    std::vector<std::string> purposes;
    r.get(p, path, "purposes", purposes);
    pc.purposes.insert(purposes.begin(), purposes.end());
    if (p["rate_limit"]) read_rate_limit(r, p["rate_limit"], path + ".rate_limit", pc.rate_limit);
    if (const YAML::Node ol = p["operation_limits"]; ol) {
      if (!ol.IsMap()) {
        r.error(ol, path + ".operation_limits",
                "expected a mapping of registry.operation to limits");
      } else {
        for (auto it = ol.begin(); it != ol.end(); ++it) {
          const std::string op = it->first.Scalar();
          const std::string opath = path + ".operation_limits." += op;
          if (!is_operation(op, procedures)) {
            r.error(it->first, opath, "unknown operation \"" + op + "\"");
            continue;
          }
          read_rate_limit(r, it->second, opath, pc.operation_limits[op]);
        }
      }
    }
    r.get(p, path, "daily_quota", pc.daily_quota, 0, INT64_MAX);
    r.get(p, path, "demo", pc.demo);
    r.get(p, path, "year_only_dates", pc.year_only_dates);
    // Withholding longer than a year is not an investigation's secrecy but a hidden access.
    r.get(p, path, "withhold_days", pc.withhold_days, 0, 365);
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
    for (std::size_t k = 0; k < inline_keys; ++k) {
      if (!is_sha256_hex(pc.api_key_sha256[k])) {
        r.error(
            p["api_key_sha256"][k], path + ".api_key_sha256[" + std::to_string(k) + "]",
            "expected 64 lower-case hex digits (sha256sum of the key; `lgsp keys hash` prints it)");
      }
    }
    std::vector<std::string> ops;
    r.get(p, path, "operations", ops);
    for (std::size_t k = 0; k < ops.size(); ++k) {
      if (!is_operation(ops[k], procedures)) {
        r.error(p["operations"][k], path + ".operations[" + std::to_string(k) + "]",
                "unknown operation \"" + ops[k] +
                    "\" (expected registry.operation, e.g. population.verify, or "
                    "procedure.<name> of a procedure under procedures.definitions)");
        continue;
      }
      pc.operations.insert(ops[k]);
    }
    const YAML::Node f = p["fields"];
    if (f) {
      if (!f.IsMap()) {
        r.error(f, path + ".fields", "expected a mapping of registry to a list of fields");
      } else {
        std::set<std::string> seen;
        for (auto it = f.begin(); it != f.end(); ++it) {
          const std::string reg_name = it->first.Scalar();
          const registries::Module* module = registries::find(reg_name);
          const std::string fpath = path + ".fields." += reg_name;
          if (module == nullptr) {
            r.error(it->first, fpath, "unknown registry");
            continue;
          }
          if (!seen.insert(reg_name).second) {
            r.error(it->first, fpath, "duplicate registry (it appears earlier in this mapping)");
            continue;
          }
          // This entry's own list (a repeated registry key is reported by check_map; looking
          // the name up again would find the first entry, not this one).
          std::vector<std::string> names;
          std::vector<YAML::Node> nodes;
          r.strings(it->second, fpath, names, nodes);
          for (std::size_t k = 0; k < names.size(); ++k) {
            if (!registries::has_field(module->catalogue(), names[k])) {
              r.error(nodes[k], fpath + "[" + std::to_string(k) + "]",
                      "unknown field \"" + names[k] + "\" of registry " + reg_name);
              continue;
            }
            pc.fields[reg_name].insert(names[k]);
          }
        }
      }
    }
    if (p["changes"]) read_change_grants(r, p["changes"], path + ".changes", pc.changes);
    if (const YAML::Node w = p["webhook"];
        w && r.check_map(w, path + ".webhook",
                         {"url", "secret_file", "secret_env", "purpose", "ca_file"})) {
      // The secret is read with the other secrets (config.cpp); the rest here.
      r.get(w, path + ".webhook", "url", pc.webhook.url);
      r.get(w, path + ".webhook", "purpose", pc.webhook.purpose);
      r.get(w, path + ".webhook", "ca_file", pc.webhook.ca_file);
    }
    out.push_back(std::move(pc));
  }
}

}  // namespace lgsp::config
