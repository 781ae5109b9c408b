#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bus/envelope.hpp"
#include "http/problem.hpp"

namespace lgsp::gateway {

/// A verify grade as the API names it: exact, partial or mismatch.
std::string_view grade_name(bus::v1::Grade g);

/// unix ms → "2026-11-23T08:00:00.123Z".
std::string format_utc(std::int64_t unix_ms);
/// format_utc, or null for 0 ("not yet").
boost::json::value time_or_null(std::int64_t unix_ms);

/// An Idempotency-Key header's value ("" = none): the 400 naming the header when it is not
/// up to 255 visible ASCII characters.
std::optional<http::Problem> check_idempotency_key(std::string_view key);

/// The JSON bodies of successful answers, from the connector's reply. Pure.
/// verify: {"request_id","match","subject_found","fields":{name:grade},<facts>,"source":{…}}
std::string verify_body(const bus::v1::Reply& reply);
/// lookup: {"request_id","record":{…only released fields…},"source":{…}}, or a list such as
/// a citizen's vehicles {"request_id","vehicles":[…],"source":{…}}. nullopt when the
/// registry's answer does not pass lookup_members' check.
std::optional<std::string> lookup_body(const bus::v1::Reply& reply,
                                       const std::vector<std::string>& asked);

/// The part of a lookup reply that carries data, as the registry module shaped it
/// ({"record":…} or a list {"vehicles":[…]}), plus "source". Used by lookup_body and by the
/// citizen profile. The gateway does not take the registry's word for what it releases:
/// every record (an object member, or an object in a list member) may hold only fields in
/// `asked`, the fields the gateway asked for on the partner's behalf; anything else (a field
/// not asked, malformed JSON, another shape) is refused with nullopt and logged.
std::optional<boost::json::object> lookup_members(const bus::v1::Reply& reply,
                                                  const std::vector<std::string>& asked);

}  // namespace lgsp::gateway
