#include "gateway/access_log.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace lgsp::gateway {
namespace {

using namespace std::chrono_literals;

/// A store whose access-log query blocks until released: a slow or stuck database.
class SlowStore final : public audit::AuditStore {
 public:
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
    std::atomic<bool> entered{false};
  };
  explicit SlowStore(Gate& gate) : gate_(gate) {}
  std::vector<audit::AuditRecord> by_subject(const std::string&, std::int64_t,
                                             std::size_t) override {
    gate_.entered = true;
    std::unique_lock lock(gate_.mu);
    gate_.cv.wait(lock, [this] { return gate_.open; });
    return {audit::AuditRecord{}};
  }
  Appended append(std::vector<audit::AuditRecord>) override { return {}; }
  void sign_heads_with(audit::HeadSigner) override {}
  std::optional<audit::SignedHead> signed_head() override { return std::nullopt; }
  std::int64_t conflicts() override { return 0; }
  void scan(const std::function<void(const audit::AuditRecord&)>&) override {}
  std::int64_t count() override { return 0; }

 private:
  Gate& gate_;
};

// A flood of access-log reads against a slow store neither queues without end nor runs
// queries whose callers gave up (fails on 72190d0: every query queued and ran, one by one).
TEST(AccessLogReader, WaitingQueriesAreBoundedAndStaleOnesAreNotRun) {
  SlowStore::Gate gate;
  AccessLogReader reader([&gate] { return std::make_unique<SlowStore>(gate); }, true);
  boost::asio::io_context ioc;
  constexpr std::size_t kQueries = AccessLogReader::kMaxQueued + 2;
  std::vector<AccessLogReader::Page> pages(kQueries);
  std::atomic<std::size_t> done = 0;
  auto work = boost::asio::make_work_guard(ioc);
  std::thread io([&] { ioc.run(); });
  const auto spawn = [&](std::size_t i) {
    boost::asio::co_spawn(
        ioc,
        [&, i]() -> boost::asio::awaitable<void> {
          pages[i] = co_await reader.page("subject", 0, 10);
          ++done;
        },
        boost::asio::detached);
  };
  spawn(0);
  while (!gate.entered) std::this_thread::sleep_for(1ms);
  for (std::size_t i = 1; i < kQueries; ++i) spawn(i);
  // The first query holds the store past the wait limit of the 32 queued behind it.
  std::this_thread::sleep_for(AccessLogReader::kMaxWait + 300ms);
  {
    std::lock_guard lock(gate.mu);
    gate.open = true;
  }
  gate.cv.notify_all();
  while (done < kQueries) std::this_thread::sleep_for(1ms);
  work.reset();
  io.join();
  ASSERT_EQ(done, kQueries);
  std::size_t ok = 0, stale = 0, refused = 0;
  for (const auto& p : pages) {
    if (std::holds_alternative<std::vector<audit::AuditRecord>>(p)) {
      ++ok;
    } else {
      const auto& u = std::get<AccessLogReader::Unavailable>(p);
      EXPECT_TRUE(u.busy) << u.why;
      if (u.why.find("waited too long") != std::string::npos) ++stale;
      if (u.why.find("too many") != std::string::npos) ++refused;
    }
  }
  EXPECT_EQ(ok, 1U);
  EXPECT_EQ(stale, AccessLogReader::kMaxQueued);
  EXPECT_EQ(refused, 1U);
}

}  // namespace
}  // namespace lgsp::gateway
