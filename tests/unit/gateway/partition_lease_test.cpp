#include "gateway/partition_lease.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "tests/support/pg_schema.hpp"
#include "tests/support/stack.hpp"

// Reply partition leases against the PostgreSQL test server (LGSP_TEST_PG_DSN), each test in
// a schema of its own.

namespace lgsp::gateway {
namespace {

using namespace std::chrono_literals;

class ReplyPartitionLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::postgres_available()) GTEST_SKIP() << "LGSP_TEST_PG_DSN not set";
    schema_ = std::make_unique<testing::TestSchema>("lgsp_lease");
  }

  std::unique_ptr<ReplyPartitionLease> lease(const std::string& owner, std::int32_t partitions,
                                             std::chrono::milliseconds length = 15s) const {
    return std::make_unique<ReplyPartitionLease>(schema_->dsn(), "t.replies", partitions, owner,
                                                 length);
  }

  std::unique_ptr<testing::TestSchema> schema_;
};

TEST_F(ReplyPartitionLeaseTest, ReplicasEachGetTheirOwnPartitionUntilNoneIsLeft) {
  const auto a = lease("a", 3);
  const auto b = lease("b", 3);
  const auto c = lease("c", 3);
  EXPECT_EQ((std::set<std::int32_t>{a->partition(), b->partition(), c->partition()}),
            (std::set<std::int32_t>{0, 1, 2}));
  try {
    lease("d", 3);
    FAIL() << "a fourth replica got one of three partitions";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("every one of the 3 partitions of t.replies is held"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(a->readiness(), "");
  EXPECT_TRUE(a->renew());
  // Three live replicas share the partners' rate limits.
  EXPECT_EQ(a->live_replicas().load(), 3);
}

TEST_F(ReplyPartitionLeaseTest, AReplicaThatStopsReleasesItsPartitionForTheNext) {
  auto a = lease("a", 2);
  ASSERT_EQ(a->partition(), 0);
  EXPECT_EQ(a->live_replicas().load(), 1);
  auto b = lease("b", 2);
  EXPECT_EQ(b->live_replicas().load(), 2);
  a.reset();
  const auto c = lease("c", 2);
  EXPECT_EQ(c->partition(), 0);
  // b counts the replicas again at its next renewal: it and c, not a.
  EXPECT_TRUE(b->renew());
  EXPECT_EQ(b->live_replicas().load(), 2);
}

TEST_F(ReplyPartitionLeaseTest, ALapsedLeaseIsTakenAndItsFormerHolderIsNoLongerReady) {
  // "a" stops renewing (cut off from the store): after its lease, "b" may take the partition.
  const auto a = lease("a", 1, 300ms);
  EXPECT_THROW(lease("b", 1), std::runtime_error);
  std::this_thread::sleep_for(400ms);
  const auto b = lease("b", 1);
  EXPECT_EQ(b->partition(), 0);
  EXPECT_FALSE(a->renew());
  EXPECT_NE(a->readiness().find("reply partition 0 was taken by another gateway replica"),
            std::string::npos)
      << a->readiness();
  EXPECT_TRUE(b->renew());
  EXPECT_EQ(b->readiness(), "");
}

TEST_F(ReplyPartitionLeaseTest, TheRenewingThreadKeepsTheLeaseAlive) {
  const auto a = lease("a", 1, 300ms);
  a->start();
  std::this_thread::sleep_for(900ms);  // three leases long
  EXPECT_THROW(lease("b", 1), std::runtime_error);
  EXPECT_EQ(a->readiness(), "");
}

TEST_F(ReplyPartitionLeaseTest, AnUnreachableStoreIsAClearErrorAtStart) {
  try {
    const ReplyPartitionLease lease("host=127.0.0.1 port=1 connect_timeout=2", "t.replies", 2, "a",
                                    15s);
    FAIL() << "claimed from nowhere";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cluster store: cannot claim a reply partition"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace lgsp::gateway
