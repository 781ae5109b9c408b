#pragma once

#include <string>
#include <string_view>

namespace lgsp::util {

/// The media type of a Content-Type (or Content-Encoding) header value: without parameters,
/// trimmed, in lower case ("Application/JSON; charset=utf-8" → "application/json"). Empty
/// when the value is empty or is not a media type (a character RFC 9110 does not allow in a
/// token, or over 127 characters), so nothing else a peer sent can reach a message.
std::string media_type(std::string_view header_value);

/// application/json, or a structured +json type (application/problem+json) when
/// `structured` is set.
bool is_json(std::string_view media, bool structured = false);

}  // namespace lgsp::util
