#include "tests/support/gateway_process.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/http_client.hpp"

namespace lgsp::testing {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

using Headers = std::map<std::string, std::string>;

Headers bulk_auth() { return {{"Authorization", std::string("Bearer ") + kBulkKey}}; }

/// Polls the job until `enough` says so, it is no longer queued or running, or `limit`.
template <typename Enough>
json::object poll_job(std::uint16_t api, const std::string& id, std::chrono::seconds limit,
                      Enough enough, std::chrono::milliseconds every) {
  const auto until = Clock::now() + limit;
  for (;;) {
    auto job = job_status(api, id);
    const auto state = job.at("state").as_string();
    if (enough(job) || (state != "running" && state != "queued") || Clock::now() > until)
      return job;
    std::this_thread::sleep_for(every);
  }
}

}  // namespace

std::filesystem::path gateway_config(const TestStack& stack, std::uint16_t api, std::uint16_t admin,
                                     const std::string& name) {
  std::ifstream in(stack.write_process_config());
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  const std::string from =
      "  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\n  threads: 2\n  instance: 1\n";
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("unexpected stack config layout");
  text.replace(at, from.size(),
               "  listen: 127.0.0.1:" + std::to_string(api) + "\n  admin_listen: 127.0.0.1:" +
                   std::to_string(admin) + "\n  threads: 2\n  instance: 0\n");
  const std::string store = "/batches.db";
  if (const auto s = text.find(store); s != std::string::npos)
    text.replace(s, store.size(), "/batches-process.db");
  const auto path = stack.dir / (name + ".yaml");
  std::ofstream(path) << text;
  return path;
}

bool gateway_ready(std::uint16_t admin) {
  try {
    return http_call(admin, "GET", "/readyz").status == 200;
  } catch (const std::exception&) {
    return false;  // not listening yet
  }
}

void wait_gateway_ready(std::uint16_t admin) {
  const auto until = Clock::now() + 60s;
  while (!gateway_ready(admin) && Clock::now() < until) std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(gateway_ready(admin)) << "the gateway process never became ready";
}

json::object job_status(std::uint16_t api, const std::string& id) {
  const auto r = http_call(api, "GET", "/v1/batches/" + id, {}, bulk_auth());
  if (r.status != 200) throw std::runtime_error("status " + std::to_string(r.status) + r.body);
  return r.json().as_object();
}

std::int64_t done_of(const json::object& job) { return job.at("counts").at("done").as_int64(); }

json::object wait_done(std::uint16_t api, const std::string& id, std::int64_t n,
                       std::chrono::seconds limit) {
  return poll_job(
      api, id, limit, [n](const json::object& job) { return done_of(job) >= n; }, 20ms);
}

json::object wait_ended(std::uint16_t api, const std::string& id, std::chrono::seconds limit) {
  return poll_job(
      api, id, limit, [](const json::object&) { return false; }, 50ms);
}

std::string alternating_verify_job(const TestStack& stack, int records) {
  const auto subjects = stack.subjects(1500);
  std::string body;
  for (int i = 1; i <= records; ++i) {
    const auto& s = subjects[static_cast<std::size_t>(i) % subjects.size()];
    body += json::serialize(
        json::object{{"citizen_id", s.citizen_id},
                     {"date_of_birth", i % 2 == 0 ? s.date_of_birth : std::string("1900-01-01")}});
    body += '\n';
  }
  return body;
}

std::string submit_verify_job(std::uint16_t api, const std::string& body,
                              const std::string& idempotency_key) {
  auto headers = bulk_auth();
  headers["Content-Type"] = "application/x-ndjson";
  if (!idempotency_key.empty()) headers["Idempotency-Key"] = idempotency_key;
  const auto accepted =
      http_call(api, "POST",
                "/v1/batches?registry=population&operation=verify&purpose=credit-bureau-cleaning",
                body, headers);
  // 200: a replay of an earlier submission with the same key (Idempotent-Replayed).
  EXPECT_TRUE(accepted.status == 202 || (accepted.status == 200 && !idempotency_key.empty()))
      << accepted.status << " " << accepted.body;
  if (accepted.status != 202 && accepted.status != 200) return {};
  return std::string(accepted.json().at("id").as_string());
}

void expect_alternating_results(std::uint16_t api, const std::string& id, int records) {
  const auto results = http_call(api, "GET", "/v1/batches/" + id + "/results", {}, bulk_auth());
  ASSERT_EQ(results.status, 200);
  std::istringstream in(results.body);
  int expected_line = 0;
  for (std::string line; std::getline(in, line);) {
    ++expected_line;
    const auto v = json::parse(line).as_object();
    ASSERT_EQ(v.at("line").as_int64(), expected_line);
    ASSERT_EQ(v.at("match").as_bool(), expected_line % 2 == 0) << "line " << expected_line;
  }
  EXPECT_EQ(expected_line, records);
}

}  // namespace lgsp::testing
