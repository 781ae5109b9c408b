#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "gateway/admission.hpp"
#include "gateway/auth.hpp"
#include "http/server.hpp"
#include "procedures/engine.hpp"
#include "procedures/store.hpp"

namespace lgsp::procedures {

/// What one call of the procedure API did, for the handler's audit event.
struct ProcedureCall {
  http::Response res;
  /// Citizens the call concerns: citizen IDs in the input; a status read's results.
  std::vector<std::string> subjects;
  std::string purpose;
  std::string on_behalf_of;
  std::string procedure_code;
};

/// The procedure API, behind the API handler's authentication:
/// - POST /v1/procedures/{name}: starts the procedure `name` (granted as procedure.<name>).
///   Body {"purpose", "on_behalf_of"?, "procedure_code"?, "input": {members}}: every input
///   member the definition needs, each checked as the kind of the command arguments it feeds,
///   every problem named ("input.date_of_birth"). Idempotency-Key makes a retried submission
///   the same procedure (200; 422 if the key was used with other parameters). Answers 202 with
///   the procedure and a Location once it is stored; the engine runs it.
/// - GET /v1/procedures/{id}: its state and each step's (state, attempts, result, detail).
/// A partner sees only its own procedures (another's id answers 404).
class ProcedureApi {
 public:
  ProcedureApi(const config::ProceduresConfig& procedures, ProcedureStore& store,
               ProcedureEngine& engine);

  /// True for a target under /v1/procedures.
  static bool matches(std::string_view target);
  /// The route template (a bounded metric label: "/v1/procedures/{name}",
  /// "/v1/procedures/{id}" or "other") and the operation (the procedure's name for a start,
  /// "status", "other").
  std::pair<std::string_view, std::string_view> classify(const http::Request& req) const;

  boost::asio::awaitable<ProcedureCall> handle(const http::Request& req,
                                               const gateway::Partner& partner,
                                               const std::string& request_id,
                                               gateway::Admission& admission);

 private:
  boost::asio::awaitable<ProcedureCall> start(const http::Request& req,
                                              const config::ProcedureDefinition& def,
                                              const gateway::Partner& partner,
                                              const std::string& request_id,
                                              gateway::Admission& admission);
  boost::asio::awaitable<ProcedureCall> status(const http::Request& req, std::string_view id,
                                               const gateway::Partner& partner,
                                               const std::string& request_id);

  const config::ProceduresConfig procedures_;
  ProcedureStore& store_;
  ProcedureEngine& engine_;
};

/// The procedure as the API shows it.
std::string procedure_json(const Procedure& p, const config::ProcedureDefinition* def,
                           const std::string& request_id);

}  // namespace lgsp::procedures
