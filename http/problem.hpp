#pragma once

#include <boost/beast/http.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace lgsp::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
using Status = boost::beast::http::status;

/// One invalid input: which field (a JSON member name, or "body"/"header:Name") and why.
struct FieldError {
  std::string field;
  std::string detail;
};

/// An RFC 9457 problem. `type` is a stable URN per kind of problem so clients can branch on
/// it; `errors` lists the offending fields.
struct Problem {
  Status status = Status::internal_server_error;
  std::string type;    // e.g. "validation"; rendered as "urn:lgsp:problem:validation"
  std::string title;   // short, the same for every instance of the type
  std::string detail;  // what happened here and what to change; never personal data
  std::vector<FieldError> errors;
};

/// The one way to make a problem: `type` without the urn prefix, `detail` never personal data.
Problem problem(Status status, std::string type, std::string title, std::string detail,
                std::vector<FieldError> errors = {});

/// 400 "validation" listing every offending field.
Problem validation_problem(std::vector<FieldError> errors);

/// The problem as an application/problem+json response with X-Request-Id.
Response make_problem_response(const Problem& p, std::string_view request_id, unsigned version,
                               bool keep_alive);

/// A JSON response with X-Request-Id.
Response make_json_response(Status status, std::string body, std::string_view request_id,
                            unsigned version, bool keep_alive);

inline constexpr std::string_view kRequestIdHeader = "X-Request-Id";

}  // namespace lgsp::http
