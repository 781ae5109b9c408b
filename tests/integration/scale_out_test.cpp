// Connectors scale out through their consumer group: two `lgsp connector` processes share
// the population requests; one is killed with SIGKILL in the middle of a run and the other
// takes over its partitions and answers everything that was left. No answer may be wrong.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "tests/support/http_client.hpp"
#include "tests/support/stack.hpp"

extern char** environ;

namespace lgsp::testing {
namespace {

namespace json = boost::json;

/// A child `lgsp connector` process; killed (SIGKILL) if still running at destruction.
class ConnectorProcess {
 public:
  ConnectorProcess(const std::filesystem::path& config, const std::filesystem::path& log)
      : log_(log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const std::string cfg = config.string();
    std::vector<std::string> args{LGSP_BINARY, "connector",  "--config",
                                  cfg,         "--registry", "population"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, LGSP_BINARY, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + std::string(LGSP_BINARY));
  }
  ~ConnectorProcess() {
    if (pid_ > 0) kill_hard();
  }
  void kill_hard() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  /// How many times the group has assigned partitions to this process so far.
  int assignments() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    int n = 0;
    for (std::size_t pos = 0;
         (pos = text.find("kafka_partitions_assigned", pos)) != std::string::npos; ++pos)
      ++n;
    return n;
  }

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
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
