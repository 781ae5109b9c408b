#pragma once

#include "registries/registry.hpp"

namespace lgsp::registries::vehicle {

/// The vehicle registry: registered vehicles by plate, and each citizen's vehicles.
/// Subjects: plate number (any common spelling, normalised) or the owner's citizen ID.
/// Verify: does this plate belong to this citizen, and is it in good standing?
const Module& module();

}  // namespace lgsp::registries::vehicle
