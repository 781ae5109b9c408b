// The procedure store on both backends: a procedure kept with its steps, one per idempotency
// key, saved step by step, listed while unfinished and purged once finished; and, shared by a
// cluster's gateways (PostgreSQL), driven by one gateway at a time: a gateway that stops
// renewing its lease loses its procedures to another, whose saves then win and its own are
// refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <thread>

#include "procedures/store.hpp"
#include "tests/support/pg_schema.hpp"
#include "tests/support/stack.hpp"

namespace lgsp::procedures {
namespace {

using namespace std::chrono_literals;

Procedure birth(const std::string& id, const std::string& key = {}) {
  Procedure p;
  p.id = id;
  p.name = "birth-registration";
  p.partner_id = "commune";
  p.idempotency_key = key;
  p.fingerprint = "fp-" + id;
  p.request_id = "req-" + id;
  p.purpose = "birth-registration";
  p.input = R"({"child_full_name":"Trần Minh Khôi"})";
  p.created_ms = 1'800'000'000'000;
  p.updated_ms = p.created_ms;
  for (const char* name : {"civil-status", "population", "insurance"}) {
    Step step;
    step.name = name;
    p.steps.push_back(step);
  }
  return p;
}

enum class Backend { kSqlite, kPostgres };

class ProcedureStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kPostgres) {
      if (!testing::postgres_available()) GTEST_SKIP() << "LGSP_TEST_PG_DSN not set";
      schema_ = std::make_unique<testing::TestSchema>("lgsp_procedures");
    } else {
      path_ = std::filesystem::temp_directory_path() /
              ("lgsp-procedures-" + std::to_string(::getpid()) + ".db");
      std::filesystem::remove(path_);
    }
    store_ = open("gateway-a", 60s);
  }
  void TearDown() override {
    store_.reset();
    if (!path_.empty()) {
      for (const char* suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(path_.string() + suffix);
    }
  }
  std::unique_ptr<ProcedureStore> open(const std::string& owner, std::chrono::milliseconds lease) {
    return GetParam() == Backend::kPostgres
               ? open_postgres_procedure_store(schema_->dsn(), owner, lease)
               : open_sqlite_procedure_store(path_.string());
  }

  std::filesystem::path path_;
  std::unique_ptr<testing::TestSchema> schema_;
  std::unique_ptr<ProcedureStore> store_;
};

TEST_P(ProcedureStoreTest, AProcedureIsKeptOncePerKeySavedStepByStepAndPurgedWhenFinished) {
  const auto [created, fresh] = store_->create(birth("p1", "key-1"));
  EXPECT_TRUE(fresh);
  // The same key again: the first procedure, not a second one.
  const auto [again, again_fresh] = store_->create(birth("p2", "key-1"));
  EXPECT_FALSE(again_fresh);
  EXPECT_EQ(again.id, "p1");
  EXPECT_FALSE(store_->get("p2"));
  store_->create(birth("p3"));

  auto p = *store_->get("p1");
  ASSERT_EQ(p.steps.size(), 3U);
  EXPECT_EQ(p.steps[1].name, "population");
  p.steps[0].state = StepState::kDone;
  p.steps[0].attempts = 1;
  p.steps[0].result = R"({"registration_number":"KS.2026.0000001"})";
  p.cursor = 1;
  store_->save(p, 0);
  const auto saved = *store_->get("p1");
  EXPECT_EQ(saved.cursor, 1);
  EXPECT_EQ(saved.steps[0].state, StepState::kDone);
  EXPECT_EQ(saved.steps[0].result, p.steps[0].result);
  EXPECT_EQ(saved.input, p.input);

  auto open = store_->unfinished();
  ASSERT_EQ(open.size(), 2U);
  EXPECT_EQ(open[0].steps.size(), 3U);
  p.state = State::kCompleted;
  p.finished_ms = 1'800'000'001'000;
  store_->save(p, 0);
  open = store_->unfinished();
  ASSERT_EQ(open.size(), 1U);
  EXPECT_EQ(open[0].id, "p3");
  EXPECT_EQ(store_->purge(1'800'000'000'500), 0);
  EXPECT_EQ(store_->purge(1'800'000'002'000), 1);
  EXPECT_FALSE(store_->get("p1"));
}

INSTANTIATE_TEST_SUITE_P(Backends, ProcedureStoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& backend) {
                           return backend.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

TEST(SharedProcedureStore, AProcedureChangesHandsOnlyWhenItsOwnersLeaseRunsOut) {
  if (!testing::postgres_available()) GTEST_SKIP() << "LGSP_TEST_PG_DSN not set";
  const testing::TestSchema schema("lgsp_procedures_shared");
  auto a = open_postgres_procedure_store(schema.dsn(), "gateway-a", 400ms);
  auto b = open_postgres_procedure_store(schema.dsn(), "gateway-b", 400ms);
  a->create(birth("p1"));
  // Gateway a drives it while it renews; b, asking all the while, never gets it.
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(a->unfinished().size(), 1U);
    EXPECT_TRUE(b->unfinished().empty());
    std::this_thread::sleep_for(100ms);
  }
  // Gateway a stops renewing (killed): once its lease has run out, b takes the procedure over.
  std::this_thread::sleep_for(500ms);
  const auto taken = b->unfinished();
  ASSERT_EQ(taken.size(), 1U);
  EXPECT_EQ(taken[0].id, "p1");
  EXPECT_TRUE(a->unfinished().empty());
  // a, back from its pause, may not move it on; b may.
  auto p = taken[0];
  p.cursor = 1;
  p.steps[0].state = StepState::kDone;
  EXPECT_THROW(a->save(p, 0), LostProcedure);
  EXPECT_NO_THROW(b->save(p, 0));
  EXPECT_EQ(b->get("p1")->cursor, 1);
}

}  // namespace
}  // namespace lgsp::procedures
