#pragma once

#include "registries/registry.hpp"

namespace lgsp::registries::insurance {

/// The social and health insurance registry: one record per insured citizen, with the
/// health insurance card, its coverage and the registered hospital. Subjects: citizen ID or
/// 10-digit social insurance number. Verify: is this card the citizen's, valid on a date?
const Module& module();

}  // namespace lgsp::registries::insurance
