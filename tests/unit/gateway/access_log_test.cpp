#include "gateway/access_log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "audit/store.hpp"

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
          pages[i] = co_await reader.page("subject", 0, 10, 0);
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
    if (std::holds_alternative<AccessLogReader::Listing>(p)) {
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

/// Runs one page() to completion.
AccessLogReader::Listing page_of(AccessLogReader& reader, std::int64_t before, std::size_t limit,
                                 std::int64_t now_ms) {
  boost::asio::io_context ioc;
  AccessLogReader::Page page;
  boost::asio::co_spawn(
      ioc,
      [&]() -> boost::asio::awaitable<void> {
        page = co_await reader.page("s-a", before, limit, now_ms);
      },
      boost::asio::detached);
  ioc.run();
  return std::get<AccessLogReader::Listing>(page);
}

std::vector<std::string> ids(const AccessLogReader::Listing& l) {
  std::vector<std::string> out;
  for (const auto& r : l.records) out.push_back(r.event_id);
  return out;
}

// A lawful investigation's access stays out of the citizen's log until its time has passed,
// and pages are filled past it, so their length does not tell that something was left out.
TEST(AccessLogReader, WithheldAccessesAreLeftOutUntilTheirTimeAndPagesStayFull) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("lgsp-withheld-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  constexpr std::int64_t kNow = 1'800'000'000'000;
  {
    auto store = audit::open_sqlite_audit_store(path.string());
    std::vector<audit::AuditRecord> records;
    for (int i = 1; i <= 6; ++i) {
      audit::AuditRecord r;
      r.event_id = "e" + std::to_string(i);
      r.request_id = r.event_id;
      r.partner_id = i == 3 || i == 5 ? "police" : "ministry";
      r.operation = "population.lookup";
      r.subject_hashes = {"s-a"};
      r.outcome = "ok";
      r.http_status = 200;
      if (i == 5) r.withheld_until_ms = kNow + 1;  // still withheld
      if (i == 3) r.withheld_until_ms = kNow;      // its time has come
      if (i == 3 || i == 5) r.withholding_ref = "case 12/2026";
      records.push_back(std::move(r));
    }
    store->append(std::move(records));
  }
  AccessLogReader reader([&] { return audit::open_sqlite_audit_store(path.string()); }, true);
  const auto first = page_of(reader, 0, 2, kNow);
  EXPECT_EQ(ids(first), (std::vector<std::string>{"e6", "e4"}));
  const auto second = page_of(reader, first.next_before, 2, kNow);
  EXPECT_EQ(ids(second), (std::vector<std::string>{"e3", "e2"}));
  EXPECT_EQ(second.records[0].withholding_ref, "case 12/2026");
  const auto last = page_of(reader, second.next_before, 2, kNow);
  EXPECT_EQ(ids(last), (std::vector<std::string>{"e1"}));
  EXPECT_EQ(last.next_before, 0);
  // A day later e5 is listed too.
  EXPECT_EQ(ids(page_of(reader, 0, 2, kNow + 86'400'000)), (std::vector<std::string>{"e6", "e5"}));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace lgsp::gateway
