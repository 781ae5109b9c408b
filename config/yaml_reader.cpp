#include "config/yaml_reader.hpp"

#include <algorithm>

namespace lgsp::config {

std::string YamlReader::join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

void YamlReader::error(const YAML::Node& at, const std::string& key_path,
                       const std::string& detail) {
  const YAML::Mark m = at.IsDefined() ? at.Mark() : YAML::Mark::null_mark();
  std::string where = file_;
  if (m.line >= 0) where += ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
  errors_.push_back(where + ": " + key_path + ": " + detail);
}

bool YamlReader::check_map(const YAML::Node& map, const std::string& path,
                           std::initializer_list<std::string_view> allowed) {
  if (!map.IsMap()) {
    error(map, path.empty() ? "(top level)" : path, "expected a mapping of keys to values");
    return false;
  }
  std::vector<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) {
      error(it->first, path.empty() ? "(top level)" : path, "a key must be a plain name");
      continue;
    }
    const auto key = it->first.Scalar();
    // YAML would keep the first and silently ignore the second: refuse instead.
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      error(it->first, join(path, key), "duplicate key (it appears earlier in this mapping)");
    }
    seen.push_back(key);
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string known;
      for (auto a : allowed) known += (known.empty() ? "" : ", ") + std::string(a);
      error(it->first, join(path, key), "unknown key (known keys here: " + known + ")");
    }
  }
  return true;
}

void YamlReader::get(const YAML::Node& map, const std::string& path, std::string_view key,
                     std::string& out) {
  const YAML::Node n = map[std::string(key)];
  if (!n) return;
  if (!n.IsScalar()) return error(n, join(path, key), "expected a string");
  out = n.Scalar();
}

void YamlReader::get(const YAML::Node& map, const std::string& path, std::string_view key,
                     bool& out) {
  const YAML::Node n = map[std::string(key)];
  if (!n) return;
  bool v = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
    return error(n, join(path, key), "expected true or false");
  }
  out = v;
}

void YamlReader::get(const YAML::Node& map, const std::string& path, std::string_view key,
                     std::int64_t& out, std::int64_t min, std::int64_t max) {
  const YAML::Node n = map[std::string(key)];
  if (!n) return;
  std::int64_t v = 0;
  if (!n.IsScalar() || !YAML::convert<std::int64_t>::decode(n, v)) {
    return error(n, join(path, key), "expected a whole number");
  }
  if (v < min || v > max) {
    return error(n, join(path, key),
                 "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                     ", got " + std::to_string(v));
  }
  out = v;
}

void YamlReader::get(const YAML::Node& map, const std::string& path, std::string_view key,
                     std::vector<std::string>& out) {
  const YAML::Node n = map[std::string(key)];
  if (!n) return;
  std::vector<YAML::Node> ignored;
  strings(n, join(path, key), out, ignored);
}

void YamlReader::strings(const YAML::Node& n, const std::string& key_path,
                         std::vector<std::string>& out, std::vector<YAML::Node>& nodes) {
  if (!n.IsSequence()) return error(n, key_path, "expected a list of strings");
  out.clear();
  nodes.clear();
  for (std::size_t i = 0; i < n.size(); ++i) {
    if (!n[i].IsScalar()) {
      error(n[i], key_path + "[" + std::to_string(i) + "]", "expected a string");
      continue;
    }
    out.push_back(n[i].Scalar());
    nodes.push_back(n[i]);
  }
}

}  // namespace lgsp::config
