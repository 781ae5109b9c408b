#pragma once

#include <string>

namespace lgsp::http {

/// A fresh request id: 32 random hex digits (128 bits), unique enough to correlate replies.
std::string new_request_id();

}  // namespace lgsp::http
