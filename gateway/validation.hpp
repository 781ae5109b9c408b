#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bus/envelope.hpp"
#include "http/problem.hpp"
#include "registries/request_reader.hpp"

namespace lgsp::gateway {

/// A partner request turned into (most of) its envelope: registry, operation, subject,
/// claims, purpose, officer and procedure. Identity, deadline and field scope are the
/// pipeline's to add.
struct ParsedRequest {
  bus::v1::Request envelope;
  /// Lookups: the fields named in the request; nullopt = every field the partner may see.
  std::optional<std::vector<std::string>> fields;
  /// citizen.profile: the registries asked for; empty = all the partner may see.
  std::vector<std::string> registries;
  /// A lawful investigation's reference (case or decision number) when the partner asks for
  /// this access to be withheld from the citizen's access log for a while; "" otherwise.
  std::string lawful_investigation;
  /// The citizen's consent the request is made under ("" when none is presented); for
  /// consent.revoke, the consent to revoke.
  std::string consent_id;
  /// consent.grant: what the citizen consents to.
  struct ConsentGrant {
    std::string partner_id;
    std::string purpose;
    std::vector<std::string> scope;
    std::string expires_on;  // YYYY-MM-DD, the last day it covers (UTC)
  };
  ConsentGrant grant;
  /// audit.access-log: page size, and the page to continue from (0 = newest).
  std::int64_t page_size = 20;
  std::int64_t before_seq = 0;
};

/// Either the parsed request or every invalid field at once, so a partner fixes its request
/// in one round trip.
template <class T>
using Parsed = std::variant<T, std::vector<http::FieldError>>;

/// Parses and validates the JSON body of `registry`.`operation` (e.g. "vehicle", "verify";
/// "citizen", "profile") under the partner's `policy`. Pure: no I/O.
Parsed<ParsedRequest> parse_request(std::string_view registry, std::string_view operation,
                                    std::string_view body, registries::ReaderPolicy policy = {});
/// The same, for a body already parsed (a bulk job's record).
Parsed<ParsedRequest> parse_request(std::string_view registry, std::string_view operation,
                                    const boost::json::object& body,
                                    registries::ReaderPolicy policy = {});

}  // namespace lgsp::gateway
