#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "tests/support/stack.hpp"

// Gateways run as `lgsp gateway` processes beside a TestStack, and the bulk-job calls the
// tests that kill them make.

namespace lgsp::testing {

/// The stack's process config turned into a gateway of its own, written to `name`.yaml in the
/// stack's dir: instance 0 (an in-process gateway is instance 1), ports `api` and `admin`,
/// and, when the stack has bulk jobs, a job store of its own.
std::filesystem::path gateway_config(const TestStack& stack, std::uint16_t api, std::uint16_t admin,
                                     const std::string& name);

/// True once the admin port answers /readyz with 200.
bool gateway_ready(std::uint16_t admin);
/// Waits up to a minute for gateway_ready(); fails the test (fatally) if it never is.
void wait_gateway_ready(std::uint16_t admin);

/// A job's status (GET /v1/batches/ID as the stack's bulk partner); throws unless 200.
boost::json::object job_status(std::uint16_t api, const std::string& id);
std::int64_t done_of(const boost::json::object& job);
/// Polls until the job has `n` records done, is no longer queued or running, or `limit`
/// passes; returns the last status.
boost::json::object wait_done(std::uint16_t api, const std::string& id, std::int64_t n,
                              std::chrono::seconds limit);
/// Polls until the job is no longer queued or running (or `limit` passes). Its last record
/// can be answered while a chunk sent again is still out: the job completes once that one
/// returns or times out.
boost::json::object wait_ended(std::uint16_t api, const std::string& id,
                               std::chrono::seconds limit);

/// An NDJSON population verify job of `records` records over the stack's citizens: odd
/// lines claim a wrong birth date, so a result recorded against the wrong line shows.
std::string alternating_verify_job(const TestStack& stack, int records);
/// Submits it as the bulk partner; returns the job id (fails the test unless 202, or 200 for
/// a replay of an earlier submission with the same key).
std::string submit_verify_job(std::uint16_t api, const std::string& body,
                              const std::string& idempotency_key = "");
/// Reads every result of a completed alternating_verify_job() and checks there is exactly
/// one per record, in input order, each the right answer.
void expect_alternating_results(std::uint16_t api, const std::string& id, int records);

}  // namespace lgsp::testing
