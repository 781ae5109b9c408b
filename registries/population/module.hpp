#pragma once

#include "registries/registry.hpp"

namespace lgsp::registries::population {

/// The population registry (national population database): a citizen's identity, birth,
/// origin and permanent address. Subjects: 12-digit citizen ID, or the old 9-digit identity
/// card number. Verify grades full_name, date_of_birth and gender; lookup releases fields.
const Module& module();

}  // namespace lgsp::registries::population
