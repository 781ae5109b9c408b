// Connectors scale out through their consumer group: two `lgsp connector` processes share
// the population requests; one is killed with SIGKILL in the middle of a run and the other
// takes over its partitions and answers everything that was left. No answer may be wrong.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/stack.hpp"

namespace lgsp::testing {
namespace {

namespace json = boost::json;

/// A child `lgsp connector` process for the population registry.
class ConnectorProcess {
 public:
  ConnectorProcess(const std::filesystem::path& config, const std::filesystem::path& log)
      : child_({"connector", "--config", config.string(), "--registry", "population"}, log) {}
  void kill_hard() { child_.kill_hard(); }
  /// How many times the group has assigned partitions to this process so far.
  int assignments() const { return child_.log_count("kafka_partitions_assigned"); }

 private:
  ChildProcess child_;
};

TEST(ScaleOut, SurvivorFinishesTheWorkOfAKilledConnector) {
  TestStack stack({.start_connector = false, .deadline_ms = 20000, .citizens = 3000});
  const auto config = stack.write_process_config();
  ConnectorProcess a(config, stack.dir / "a.log");
  ConnectorProcess b(config, stack.dir / "b.log");
  // Both members must hold a share before the run starts.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((a.assignments() == 0 || b.assignments() == 0) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GT(a.assignments(), 0) << "connector a never joined";
  ASSERT_GT(b.assignments(), 0) << "connector b never joined";

  const auto subjects = stack.subjects(200);
  std::vector<std::future<HttpResult>> answers;
  int b_before_kill = 0;
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    if (i == subjects.size() / 2) {  // mid-run
      b_before_kill = b.assignments();
      a.kill_hard();
    }
    const auto& s = subjects[i];
    // Every other request claims a wrong birth date: a swapped or stale answer would show.
    const bool truthful = i % 2 == 0;
    const std::string body =
        json::serialize(json::object{{"citizen_id", s.citizen_id},
                                     {"date_of_birth", truthful ? s.date_of_birth : "1900-01-01"},
                                     {"purpose", "p"}});
    answers.push_back(std::async(std::launch::async, [&stack, body] {
      return post_json(stack.api_port(), "/v1/population/verify", body, kMinistryKey);
    }));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  int ok = 0;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    const auto r = answers[i].get();
    ASSERT_EQ(r.status, 200) << "request " << i << ": " << r.body;
    EXPECT_EQ(r.json().at("match").as_bool(), i % 2 == 0) << "wrong answer for request " << i;
    ++ok;
  }
  EXPECT_EQ(ok, 200);
  // The survivor was handed the dead member's partitions.
  EXPECT_GT(b.assignments(), b_before_kill);
}

}  // namespace
}  // namespace lgsp::testing
