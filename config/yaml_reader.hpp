#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace lgsp::config {

/// Walks a YAML document and collects every problem instead of stopping at the first, so the
/// operator can fix a file in one pass. Each message is "file:line:col: key.path: detail".
class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  /// Reports every key of `map` not in `allowed`; false (and an error) when `map` is not a map.
  bool check_map(const YAML::Node& map, const std::string& path,
                 std::initializer_list<std::string_view> allowed);

  // Typed getters: leave `out` (the default) alone when the key is absent; report a type or
  // range error naming the key otherwise.
  void get(const YAML::Node& map, const std::string& path, std::string_view key, std::string& out);
  void get(const YAML::Node& map, const std::string& path, std::string_view key, bool& out);
  void get(const YAML::Node& map, const std::string& path, std::string_view key, std::int64_t& out,
           std::int64_t min, std::int64_t max);
  void get(const YAML::Node& map, const std::string& path, std::string_view key,
           std::vector<std::string>& out);
  /// A list of strings at `n` itself; `nodes[i]` is where `out[i]` was written (items that
  /// are not strings are reported and skipped, so indexes into `n` would not match).
  void strings(const YAML::Node& n, const std::string& key_path, std::vector<std::string>& out,
               std::vector<YAML::Node>& nodes);

  void error(const YAML::Node& at, const std::string& key_path, const std::string& detail);
  const std::vector<std::string>& errors() const { return errors_; }
  const std::string& file() const { return file_; }

  static std::string join(const std::string& path, std::string_view key);

 private:
  std::string file_;
  std::vector<std::string> errors_;
};

}  // namespace lgsp::config
