#pragma once

#include <string>

namespace lgsp::http {

/// A fresh request id: 32 hex digits, 128 bits from the CSPRNG (they are also audit event ids:
/// unguessable, and a repeat is an alarm, not a coincidence). Throws if the generator fails.
std::string new_request_id();

}  // namespace lgsp::http
