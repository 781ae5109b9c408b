#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "bus/envelope.hpp"

namespace lgsp::gateway {

/// A verify grade as the API names it: exact, partial or mismatch.
std::string_view grade_name(bus::v1::Grade g);

/// unix ms → "2026-11-23T08:00:00.123Z".
std::string format_utc(std::int64_t unix_ms);

/// The JSON bodies of successful answers, from the connector's reply. Pure.
/// verify: {"request_id","match","subject_found","fields":{name:grade},<facts>,"source":{…}}
std::string verify_body(const bus::v1::Reply& reply);
/// lookup: {"request_id","record":{…only released fields…},"source":{…}}, or for a
/// citizen's vehicles {"request_id","vehicles":[…],"source":{…}}.
std::string lookup_body(const bus::v1::Reply& reply);

/// The part of a lookup reply that carries data: {"record":…} or {"vehicles":[…]}, plus
/// "source". Used by lookup_body and by the citizen profile.
boost::json::object lookup_members(const bus::v1::Reply& reply);

}  // namespace lgsp::gateway
