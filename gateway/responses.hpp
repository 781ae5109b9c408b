#pragma once

#include <cstdint>
#include <string>

#include "bus/envelope.hpp"

namespace lgsp::gateway {

/// unix ms → "2026-11-23T08:00:00.123Z".
std::string format_utc(std::int64_t unix_ms);

/// The JSON bodies of successful answers, from the connector's reply. Pure.
/// verify: {"request_id","match","subject_found","fields":{name:grade},"source":{…}}
std::string verify_body(const bus::v1::Reply& reply);
/// lookup: {"request_id","record":{…only released fields…},"source":{…}}
std::string lookup_body(const bus::v1::Reply& reply);

}  // namespace lgsp::gateway
