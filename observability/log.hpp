#pragma once

#include <spdlog/spdlog.h>

#include <boost/json/value.hpp>
#include <initializer_list>
#include <string_view>
#include <type_traits>

namespace lgsp::obs {

/// Structured log fields. Values must never carry personal data (citizen IDs, names, dates
/// of birth): log the request id, the partner and a hashed subject instead.
struct Field {
  template <class T>
  Field(std::string_view k, const T& v) : key(k) {
    if constexpr (std::is_convertible_v<const T&, std::string_view>) {
      value = std::string_view(v);
    } else {
      value = v;
    }
  }
  std::string_view key;
  boost::json::value value;
};
using Fields = std::initializer_list<Field>;

/// Sets up the process-wide logger: JSON lines on stderr, UTC timestamps, `process` in every
/// line. Call once at start, before other threads run. level: trace|debug|info|warn|error.
void init_logging(std::string_view process, std::string_view level);

/// Writes one event as one JSON line: {"ts":…,"level":…,"process":…,"event":…,<fields>}.
void log(spdlog::level::level_enum level, std::string_view event, Fields fields = {});

inline void info(std::string_view event, Fields fields = {}) {
  log(spdlog::level::info, event, fields);
}
inline void warn(std::string_view event, Fields fields = {}) {
  log(spdlog::level::warn, event, fields);
}
inline void error(std::string_view event, Fields fields = {}) {
  log(spdlog::level::err, event, fields);
}
inline void debug(std::string_view event, Fields fields = {}) {
  log(spdlog::level::debug, event, fields);
}

}  // namespace lgsp::obs
