// The change feed's store: one change per event id, pages by cursor over the kinds a reader
// may see, a next cursor that moves past what it may not, and retention that turns an older
// cursor into "expired" rather than a silent gap, while a reader without a cursor starts
// from the oldest change kept.
#include <gtest/gtest.h>

#include <filesystem>

#include "changes/store.hpp"
#include "util/clock.hpp"

namespace lgsp::changes {
namespace {

namespace fs = std::filesystem;

Change change(std::int64_t offset, const std::string& kind, std::int64_t received_ms) {
  Change c;
  c.offset = offset;
  c.event_id = "chg-" + std::string(31, '0') + std::to_string(offset % 10);
  c.registry = "civil-status";
  c.kind = kind;
  c.citizen_id = "001036000184";
  c.data = {{"date_of_death", "2026-12-01"}};
  c.time_unix_ms = received_ms;
  c.received_unix_ms = received_ms;
  return c;
}

class ChangeStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() / ("lgsp-changes-" + std::to_string(::getpid()) + ".db");
    fs::remove(path_);
  }
  void TearDown() override {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path_.string() + suffix);
  }
  fs::path path_;
};

TEST_F(ChangeStoreTest, PagesFollowTheCursorOverTheReadersKindsOnly) {
  ChangeStore store(path_.string());
  EXPECT_EQ(store.next_offset(), 0);
  EXPECT_EQ(store.high(), -1);
  const std::int64_t now = util::unix_ms_now();
  // Offsets 0-4; offset 1 is a kind the reader does not see; 3 repeats 0's event id.
  auto dup = change(3, "record-death", now);
  dup.event_id = change(0, "record-death", now).event_id;
  EXPECT_EQ(store.append({change(0, "record-death", now), change(1, "record-birth", now),
                          change(2, "void-death", now), dup},
                         5),
            3U);
  EXPECT_EQ(store.next_offset(), 5);
  EXPECT_EQ(store.high(), 4);

  const std::set<std::string> kinds{"civil-status.record-death", "civil-status.void-death"};
  const auto all = store.read(-1, kinds, 100);
  ASSERT_EQ(all.changes.size(), 2U);
  EXPECT_EQ(all.changes[0].offset, 0);
  EXPECT_EQ(all.changes[1].offset, 2);
  EXPECT_EQ(all.changes[0].data.at("date_of_death"), "2026-12-01");
  // Fewer than the limit: next is the last offset taken (4), past what the reader skips.
  EXPECT_EQ(all.next, 4);
  // A full page: next is its last change.
  const auto one = store.read(-1, kinds, 1);
  ASSERT_EQ(one.changes.size(), 1U);
  EXPECT_EQ(one.next, 0);
  const auto rest = store.read(one.next, kinds, 1);
  ASSERT_EQ(rest.changes.size(), 1U);
  EXPECT_EQ(rest.changes[0].offset, 2);
  EXPECT_TRUE(store.read(4, kinds, 100).changes.empty());
  EXPECT_EQ(store.read(4, kinds, 100).next, 4);
}

TEST_F(ChangeStoreTest, RetentionExpiresOlderCursorsAndResumesAcrossReopening) {
  const std::int64_t now = util::unix_ms_now();
  {
    ChangeStore store(path_.string());
    store.append({change(0, "record-death", now - 10'000), change(1, "record-death", now - 9'000),
                  change(2, "record-death", now)},
                 3);
    EXPECT_EQ(store.purge(now - 5'000), 2U);
  }
  ChangeStore store(path_.string());  // reopened: where it stood
  EXPECT_EQ(store.next_offset(), 3);
  const std::set<std::string> kinds{"civil-status.record-death"};
  EXPECT_TRUE(store.read(0, kinds, 10).expired);  // offset 1 was deleted unread
  const auto kept = store.read(1, kinds, 10);
  EXPECT_FALSE(kept.expired);
  ASSERT_EQ(kept.changes.size(), 1U);
  // No cursor: the oldest change kept, not an expiry.
  const auto fresh = store.read(-1, kinds, 10);
  EXPECT_FALSE(fresh.expired);
  ASSERT_EQ(fresh.changes.size(), 1U);
  EXPECT_EQ(fresh.changes[0].offset, 2);
}

}  // namespace
}  // namespace lgsp::changes
