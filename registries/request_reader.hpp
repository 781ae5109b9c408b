#pragma once

#include <boost/json/object.hpp>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bus/envelope.hpp"
#include "http/problem.hpp"
#include "registries/registry.hpp"

namespace lgsp::registries {

/// What the partner's grant lets its requests say.
struct ReaderPolicy {
  /// A year alone (YYYY) is accepted as a claimed date (partner policy year_only_dates).
  bool year_only_dates = false;
};

/// Walks one JSON request body, collecting every invalid member so a partner fixes its
/// request in one round trip. The shared vocabulary of the modules' parsers (and of the
/// gateway's own operations): typed members, citizen IDs, field lists, unknown members.
/// Lives for one parse; pure.
class RequestReader {
 public:
  using Errors = std::vector<http::FieldError>;
  RequestReader(const boost::json::object& o, Errors& errors, ReaderPolicy policy = {})
      : o_(o), errors_(errors), policy_(policy) {}

  /// True when `key` is present and not null.
  bool has(std::string_view key) const;
  /// A string member; absent → nullopt (and an error when required). Refuses non-strings,
  /// empty strings and strings longer than max_len bytes.
  std::optional<std::string> str(std::string_view key, bool required, std::size_t max_len);
  const boost::json::value* raw(std::string_view key) const { return o_.if_contains(key); }
  void error(std::string_view field, std::string detail);

  /// Refuses members that are neither in `own` nor common to every request (purpose,
  /// on_behalf_of, procedure_code).
  void only(std::initializer_list<std::string_view> own);

  /// The subject as a 12-digit citizen ID (or, when allow_legacy, a 9-digit identity card
  /// number) into env's subject_key/subject. False when absent or invalid.
  bool citizen_subject(bus::v1::Request& env, bool required, bool allow_legacy);
  /// A 12-digit citizen ID that is a claim or a parameter rather than the subject.
  std::optional<std::string> citizen_id(std::string_view key, bool required);
  /// A claimed date: an ISO 8601 calendar date, YYYY-MM-DD, or, when the policy allows it, a
  /// year alone, YYYY (graded partial when it agrees).
  std::optional<std::string> date_or_year(std::string_view key, bool required);
  /// A JSON boolean, as the claim text "true" or "false".
  std::optional<std::string> boolean(std::string_view key, bool required);
  /// The optional "fields" list of a lookup, checked against the catalogue.
  std::optional<std::vector<std::string>> fields(const Catalogue& catalogue);
  /// "give exactly one of a, b": true when exactly one is present (else reports it).
  bool exactly_one(std::string_view a, std::string_view b);

 private:
  const boost::json::object& o_;
  Errors& errors_;
  ReaderPolicy policy_;
};

/// Sets the envelope's subject.
inline void set_subject(bus::v1::Request& env, std::string_view key, std::string value) {
  env.set_subject_key(std::string(key));
  env.set_subject(std::move(value));
}

}  // namespace lgsp::registries
