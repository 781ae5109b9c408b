#pragma once

#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "registries/backends/upstream.hpp"
#include "registries/commands.hpp"

// The "upstream" backend's generic half: asks a ministry's REST API for one subject and maps
// its answer onto the columns of a module's record, as config `registries.<name>.upstream`
// declares. A module's upstream store turns the columns into its row type. An answer that
// does not fit the declared shape is an error, never a record with a guessed value.

namespace lgsp::registries::upstream {

/// Why there is no record. The transient ones (timeout, unavailable, circuit_open) compare
/// equal to std::errc::resource_unavailable_try_again, which the services answer as
/// "registry unavailable, try again" rather than "registry error"; kUnsupported compares
/// equal to std::errc::operation_not_supported, answered as a request the registry refuses
/// (400: ask by another subject key), not as its failure.
enum class Error {
  kTimeout = 1,
  kUnavailable,
  kCircuitOpen,
  kMalformed,    // the answer is not JSON, or lacks or mistypes a declared column
  kRejected,     // the upstream refused us (401/403/other 4xx): our side's config
  kUnsupported,  // no path is configured for this kind of subject
};
const boost::system::error_category& category();
boost::system::error_code make_error_code(Error e);

/// Column → value, as strings (dates in ISO 8601, mapped values translated).
using Record = std::map<std::string, std::string, std::less<>>;

/// Moves `column`'s value out of `r` ("" when the answer had none).
std::string take(Record& r, std::string_view column);

/// Maps one answer: every configured column read at its JSON Pointer, converted as
/// declared; `required` columns must be present and non-empty. The error names the column
/// and the reason, never the value.
boost::system::result<Record> map_answer(const boost::json::value& answer,
                                         const std::map<std::string, config::UpstreamField>& fields,
                                         std::span<const std::string_view> required,
                                         std::string* why = nullptr);

/// Converts a date from `format` ("DD/MM/YYYY", "YYYY-MM-DD", "YYYYMMDD") to ISO 8601;
/// nullopt when it does not fit the format or is not a calendar date.
std::optional<std::string> iso_date(std::string_view value, std::string_view format);

/// The client options a config block describes.
Options options_of(const config::UpstreamConfig& c);

/// One upstream registry's records by subject. Thread-safe (the client is).
class RecordSource {
 public:
  /// Throws std::invalid_argument naming what to change (see Client).
  RecordSource(const config::UpstreamConfig& c, std::span<const std::string_view> required);

  /// The record for `subject_key` = `value`: found, not found (nullopt), or an Error.
  boost::system::result<std::optional<Record>> fetch(std::string_view subject_key,
                                                     std::string_view value);
  /// Every record for `subject_key` = `value`, for registries that hold several per subject
  /// (config `records`: where the answer's array is; `fields` point into each element). A
  /// 404 is no record; an answer without the array, or with an element that does not map,
  /// is kMalformed: never a partial list.
  boost::system::result<std::vector<Record>> fetch_all(std::string_view subject_key,
                                                       std::string_view value);
  /// Applies a command through the upstream's own API (config `commands`: command → path):
  /// POSTs {"command","command_id","args"} with the command id as Idempotency-Key, so the
  /// upstream applies it once however often it is sent. 2xx: applied, its JSON object's
  /// string members are the result; 409/422: refused by the upstream's rules; timeouts and
  /// outages are transient (an Error); no path for the command: operation_not_supported.
  boost::system::result<CommandOutcome> command(const bus::v1::Request& request);
  Stats stats() const { return client_.stats(); }

 private:
  /// The GET for one subject: its JSON, nullopt on 404, or an Error.
  boost::system::result<std::optional<boost::json::value>> call(std::string_view subject_key,
                                                                std::string_view value);
  boost::system::result<Record> map(const boost::json::value& answer) const;

  config::UpstreamConfig config_;
  std::span<const std::string_view> required_;
  Client client_;
};

}  // namespace lgsp::registries::upstream

namespace boost::system {
template <>
struct is_error_code_enum<lgsp::registries::upstream::Error> : std::true_type {};
}  // namespace boost::system
