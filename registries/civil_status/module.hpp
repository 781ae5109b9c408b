#pragma once

#include "registries/registry.hpp"

namespace lgsp::registries::civil_status {

/// The civil-status registry (hộ tịch): births, deaths and marriages, by citizen ID.
/// Verify answers "is this person recorded as deceased?" and "were these two married on this
/// date?"; lookup lists the citizen's registrations. See registries/civil_status/README.md.
const Module& module();

}  // namespace lgsp::registries::civil_status
