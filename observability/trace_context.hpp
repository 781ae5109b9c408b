#pragma once

#include <string>
#include <string_view>

namespace lgsp::obs {

/// W3C Trace Context: keeps the partner's trace id when its `traceparent` is valid and
/// starts a new span under it; starts a new trace otherwise. Returns the traceparent to
/// forward (Kafka header) and return (response header).
std::string continue_trace(std::string_view incoming);

/// The 32-hex trace id of a valid traceparent (for logs), or "".
std::string_view trace_id_of(std::string_view traceparent);

/// True for "00-<32 hex, not all 0>-<16 hex, not all 0>-<2 hex>".
bool valid_traceparent(std::string_view tp);

}  // namespace lgsp::obs
