#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "http/problem.hpp"

namespace lgsp::gateway {

/// What every request names: why the data is needed (purpose limitation), and optionally
/// the officer acting and the administrative procedure.
struct Accountability {
  std::string purpose;
  std::string on_behalf_of;
  std::string procedure_code;
};

struct VerifyInput {
  std::string citizen_id;
  std::optional<std::string> full_name;
  std::optional<std::string> date_of_birth;
  std::optional<std::string> gender;
  Accountability who;
};

struct LookupInput {
  std::string citizen_id;
  /// nullopt: every field the partner may see.
  std::optional<std::vector<std::string>> fields;
  Accountability who;
};

/// Parsing either yields the input or the list of every invalid field (all at once, so a
/// partner fixes its request in one round trip). Pure: no I/O.
template <class T>
using Parsed = std::variant<T, std::vector<http::FieldError>>;

Parsed<VerifyInput> parse_population_verify(std::string_view body);
Parsed<LookupInput> parse_population_lookup(std::string_view body);

}  // namespace lgsp::gateway
