#include "http/problem.hpp"

#include <algorithm>

#include <boost/json.hpp>

namespace lgsp::http {

Problem problem(Status status, std::string type, std::string title, std::string detail,
                std::vector<FieldError> errors) {
  return Problem{status, std::move(type), std::move(title), std::move(detail), std::move(errors)};
}

Problem validation_problem(std::vector<FieldError> errors) {
  std::string detail = errors.size() == 1
                           ? "field '" + errors[0].field + "': " + errors[0].detail
                           : std::to_string(errors.size()) + " fields are invalid; see errors";
  return problem(Status::bad_request, "validation", "The request is invalid", std::move(detail),
                 std::move(errors));
}

Response make_problem_response(const Problem& p, std::string_view request_id, unsigned version,
                               bool keep_alive) {
  boost::json::object o;
  o["type"] = "urn:lgsp:problem:" + p.type;
  o["title"] = p.title;
  o["status"] = static_cast<int>(p.status);
  o["detail"] = p.detail;
  o["request_id"] = request_id;
  if (!p.errors.empty()) {
    boost::json::array errs;
    for (const auto& e : p.errors) {
      // "input.date_of_birth" names a nested member: its JSON Pointer is #/input/date_of_birth.
      std::string pointer = "#/" + e.field;
      std::replace(pointer.begin(), pointer.end(), '.', '/');
      errs.push_back(
          boost::json::object{{"field", e.field}, {"pointer", pointer}, {"detail", e.detail}});
    }
    o["errors"] = std::move(errs);
  }
  Response res{p.status, version};
  res.set(boost::beast::http::field::content_type, "application/problem+json");
  res.set(kRequestIdHeader, request_id);
  res.keep_alive(keep_alive);
  res.body() = boost::json::serialize(o);
  res.prepare_payload();
  return res;
}

Response make_json_response(Status status, std::string body, std::string_view request_id,
                            unsigned version, bool keep_alive) {
  Response res{status, version};
  res.set(boost::beast::http::field::content_type, "application/json");
  res.set(kRequestIdHeader, request_id);
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

}  // namespace lgsp::http
