#pragma once

#include <yaml-cpp/yaml.h>

#include <vector>

#include "config/config.hpp"
#include "config/yaml_reader.hpp"

namespace lgsp::config {

/// Reads the `partners` list: identity, credentials (API key hashes inline or from a file,
/// client certificate fingerprints or subjects, OAuth2 client ids), operations, fields,
/// purposes, matching policy, rate limits and quota. Every problem goes to `r`. An operation
/// "procedure.<name>" must name one of `procedures`.
void read_partners(YamlReader& r, const YAML::Node& n, std::vector<PartnerConfig>& out,
                   const ProceduresConfig& procedures);

}  // namespace lgsp::config
