#pragma once

#include <yaml-cpp/yaml.h>

#include "config/config.hpp"
#include "config/yaml_reader.hpp"

namespace lgsp::config {

/// Reads the `procedures` section: the store, timeouts, and the definitions, each step checked
/// against the registry table (registry, command, its arguments and where each comes from).
/// Every problem goes to `r`.
void read_procedures(YamlReader& r, const YAML::Node& n, ProceduresConfig& out);

}  // namespace lgsp::config
