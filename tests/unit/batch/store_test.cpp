#include "batch/store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "util/sqlite.hpp"

// The batch stores: SQLite on a real file, and PostgreSQL on the test server.

namespace lgsp::batch {
namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;

Job make_job(const std::string& id, const std::string& partner = "partner-1",
             const std::string& key = "") {
  Job j;
  j.id = id;
  j.partner_id = partner;
  j.registry = "population";
  j.operation = "verify";
  j.purpose = "benefit eligibility";
  j.procedure_code = "PROC-42";
  j.format = "ndjson";
  j.idempotency_key = key;
  j.fingerprint = "fp-" + id;
  j.request_id = "req-" + id;
  j.template_request = std::string("\x08\x01\x00\x12\x03pop", 8);  // binary, with a NUL
  j.created_ms = kNow;
  return j;
}

/// A request blob of ~100 bytes, different per line.
std::string request_for(std::int64_t line) {
  std::string r = "request-" + std::to_string(line) + '\0';
  r.resize(100, 'x');
  return r;
}

std::string result_for(std::int64_t line) {
  return R"({"line":)" + std::to_string(line) + R"(,"outcome":"matched"})";
}

/// Lines [from, to]; those in `invalid` carry a result and no request.
std::vector<NewRecord> make_records(std::int64_t from, std::int64_t to,
                                    const std::vector<std::int64_t>& invalid = {}) {
  std::vector<NewRecord> out;
  for (std::int64_t line = from; line <= to; ++line) {
    NewRecord r;
    r.line = line;
    if (std::find(invalid.begin(), invalid.end(), line) != invalid.end()) {
      r.result = R"({"line":)" + std::to_string(line) + R"(,"outcome":"invalid"})";
    } else {
      r.request = request_for(line);
    }
    out.push_back(std::move(r));
  }
  return out;
}

RecordResult answer(std::int64_t line, Outcome outcome = Outcome::kMatched,
                    std::string result = "") {
  return {line, outcome, result.empty() ? result_for(line) : std::move(result)};
}

std::vector<std::int64_t> lines_of(const std::vector<PendingRecord>& records) {
  std::vector<std::int64_t> out;
  for (const auto& r : records) out.push_back(r.line);
  return out;
}

enum class Backend { kSqlite, kPostgres };

/// Each test against a store of its own: a SQLite file in a temp dir, or a schema of its own
/// in the PostgreSQL server named by LGSP_TEST_PG_DSN (skipped when unset).
class BatchStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    const std::string name =
        "lgsp_batch_store_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
    if (GetParam() == Backend::kSqlite) {
      dir_ = std::filesystem::temp_directory_path() / name;
      // Nested and missing: the store creates the parent directories.
      path_ = (dir_ / "state" / "batch.db").string();
    } else {
      const char* dsn = std::getenv("LGSP_TEST_PG_DSN");  // NOLINT(concurrency-mt-unsafe)
      if (dsn == nullptr) GTEST_SKIP() << "LGSP_TEST_PG_DSN not set (see with_postgres.sh)";
      admin_dsn_ = dsn;
      schema_ = name;
      pqxx::connection admin(admin_dsn_);
      pqxx::nontransaction(admin).exec("CREATE SCHEMA " + schema_);
      dsn_ = admin_dsn_ + " options='-csearch_path=" + schema_ + "'";
    }
    store_ = open();
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    if (!schema_.empty()) {
      pqxx::connection admin(admin_dsn_);
      pqxx::nontransaction(admin).exec("DROP SCHEMA " + schema_ + " CASCADE");
    }
  }

  /// Another store on the same file or database (a restarted process, another replica).
  std::unique_ptr<BatchStore> open() const {
    return GetParam() == Backend::kSqlite ? open_sqlite_batch_store(path_)
                                          : open_postgres_batch_store(dsn_);
  }

  /// How the store names itself in its errors.
  std::string store_name() const {
    return GetParam() == Backend::kSqlite ? "batch store " + path_ : "batch store (PostgreSQL)";
  }

  /// Drops the records table behind the store's back: what a broken store looks like.
  void drop_records_table() const {
    if (GetParam() == Backend::kSqlite) {
      const auto db = sqlite::open(path_, SQLITE_OPEN_READWRITE);
      sqlite::exec(db.get(), "DROP TABLE records");
    } else {
      pqxx::connection c(dsn_);
      pqxx::nontransaction(c).exec("DROP TABLE batch_records");
    }
  }

  Job job(const std::string& id) const {
    auto j = store_->find_job(id);
    if (!j) throw std::runtime_error("no job " + id);
    return *j;
  }

  std::filesystem::path dir_;
  std::string path_;
  std::string admin_dsn_;
  std::string schema_;
  std::string dsn_;
  std::unique_ptr<BatchStore> store_;
};

std::string backend_name(Backend b) { return b == Backend::kSqlite ? "Sqlite" : "Postgres"; }

INSTANTIATE_TEST_SUITE_P(Backends, BatchStoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& p) { return backend_name(p.param); });

TEST(BatchStoreNames, JobStatesRoundTripThroughTheirNames) {
  for (const auto s : {JobState::kUploading, JobState::kQueued, JobState::kRunning,
                       JobState::kCompleted, JobState::kFailed, JobState::kCancelled}) {
    EXPECT_EQ(job_state_from(to_string(s)), s) << to_string(s);
  }
  EXPECT_EQ(to_string(JobState::kUploading), "uploading");
  EXPECT_EQ(to_string(JobState::kCancelled), "cancelled");
  EXPECT_EQ(job_state_from("done"), std::nullopt);
  EXPECT_EQ(job_state_from(""), std::nullopt);
  EXPECT_EQ(job_state_from("Running"), std::nullopt);
}

TEST(BatchStoreNames, OutcomesHaveTheirWireNames) {
  EXPECT_EQ(to_string(Outcome::kMatched), "matched");
  EXPECT_EQ(to_string(Outcome::kMismatched), "mismatched");
  EXPECT_EQ(to_string(Outcome::kNotFound), "not_found");
  EXPECT_EQ(to_string(Outcome::kInvalid), "invalid");
  EXPECT_EQ(to_string(Outcome::kFailed), "failed");
}

TEST_P(BatchStoreTest, CreatesMissingParentDirectories) {
  if (GetParam() != Backend::kSqlite) GTEST_SKIP() << "a file store only";
  EXPECT_TRUE(std::filesystem::exists(path_));
}

TEST_P(BatchStoreTest, FindsCreatedJobWithEveryField) {
  Job in = make_job("j1", "partner-1", "key-1");
  // The store owns these: a new job is uploading with nothing counted.
  in.state = JobState::kRunning;
  in.counts.total = 5;
  in.counts.done = 5;
  ASSERT_TRUE(store_->create_job(in));
  const Job out = job("j1");
  EXPECT_EQ(out.id, "j1");
  EXPECT_EQ(out.partner_id, "partner-1");
  EXPECT_EQ(out.registry, "population");
  EXPECT_EQ(out.operation, "verify");
  EXPECT_EQ(out.purpose, "benefit eligibility");
  EXPECT_EQ(out.procedure_code, "PROC-42");
  EXPECT_EQ(out.format, "ndjson");
  EXPECT_EQ(out.idempotency_key, "key-1");
  EXPECT_EQ(out.fingerprint, "fp-j1");
  EXPECT_EQ(out.request_id, "req-j1");
  EXPECT_EQ(out.template_request, in.template_request);
  EXPECT_EQ(out.state, JobState::kUploading);
  EXPECT_EQ(out.counts.total, 0);
  EXPECT_EQ(out.counts.done, 0);
  EXPECT_EQ(out.created_ms, kNow);
  EXPECT_EQ(out.started_ms, 0);
  EXPECT_EQ(out.finished_ms, 0);
  EXPECT_EQ(out.last_progress_ms, 0);
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(store_->find_job("j2"), std::nullopt);
}

TEST_P(BatchStoreTest, KeepsAnEmptyTemplateRequest) {
  Job in = make_job("j1");
  in.template_request.clear();
  ASSERT_TRUE(store_->create_job(in));
  EXPECT_EQ(job("j1").template_request, "");
}

TEST_P(BatchStoreTest, RefusesDuplicateJobId) {
  ASSERT_TRUE(store_->create_job(make_job("j1", "partner-1")));
  Job again = make_job("j1", "partner-2");
  EXPECT_FALSE(store_->create_job(again));
  EXPECT_EQ(job("j1").partner_id, "partner-1");
}

TEST_P(BatchStoreTest, RefusesReusedIdempotencyKeyOfSamePartner) {
  ASSERT_TRUE(store_->create_job(make_job("j1", "partner-1", "key-1")));
  EXPECT_FALSE(store_->create_job(make_job("j2", "partner-1", "key-1")));
  EXPECT_EQ(store_->find_job("j2"), std::nullopt);
}

TEST_P(BatchStoreTest, AllowsSameIdempotencyKeyForAnotherPartner) {
  ASSERT_TRUE(store_->create_job(make_job("j1", "partner-1", "key-1")));
  EXPECT_TRUE(store_->create_job(make_job("j2", "partner-2", "key-1")));
}

TEST_P(BatchStoreTest, JobsWithoutIdempotencyKeyNeverConflict) {
  EXPECT_TRUE(store_->create_job(make_job("j1", "partner-1", "")));
  EXPECT_TRUE(store_->create_job(make_job("j2", "partner-1", "")));
  EXPECT_EQ(store_->find_by_idempotency_key("partner-1", ""), std::nullopt);
}

TEST_P(BatchStoreTest, FindsJobByPartnerAndIdempotencyKey) {
  ASSERT_TRUE(store_->create_job(make_job("j1", "partner-1", "key-1")));
  ASSERT_TRUE(store_->create_job(make_job("j2", "partner-2", "key-1")));
  ASSERT_TRUE(store_->create_job(make_job("j3", "partner-1", "key-3")));
  EXPECT_EQ(store_->find_by_idempotency_key("partner-1", "key-1")->id, "j1");
  EXPECT_EQ(store_->find_by_idempotency_key("partner-2", "key-1")->id, "j2");
  EXPECT_EQ(store_->find_by_idempotency_key("partner-1", "key-3")->id, "j3");
  EXPECT_EQ(store_->find_by_idempotency_key("partner-2", "key-3"), std::nullopt);
  EXPECT_EQ(store_->find_by_idempotency_key("partner-3", "key-1"), std::nullopt);
}

TEST_P(BatchStoreTest, AppendCountsValidAndInvalidRecords) {
  ASSERT_TRUE(store_->create_job(make_job("j1")));
  store_->append("j1", make_records(1, 5, {2, 4}));
  store_->append("j1", make_records(6, 8, {8}));
  const Counts c = job("j1").counts;
  EXPECT_EQ(c.total, 8);
  EXPECT_EQ(c.done, 3);
  EXPECT_EQ(c.invalid, 3);
  EXPECT_EQ(c.matched + c.mismatched + c.not_found + c.failed, 0);
  // Invalid lines come back with their result, as uploaded.
  const auto rows = store_->results("j1", 0, 10);
  ASSERT_EQ(rows.size(), 8U);
  EXPECT_EQ(rows[1].result, R"({"line":2,"outcome":"invalid"})");
  EXPECT_EQ(rows[0].result, std::nullopt);
}

TEST_P(BatchStoreTest, AppendingALineTwiceKeepsTheFirstAndCountsOnce) {
  ASSERT_TRUE(store_->create_job(make_job("j1")));
  store_->append("j1", make_records(1, 3));
  auto again = make_records(3, 4, {3});
  store_->append("j1", again);
  EXPECT_EQ(job("j1").counts.total, 4);
  EXPECT_EQ(job("j1").counts.invalid, 0);
  EXPECT_EQ(lines_of(store_->pending("j1", 0, 10)), (std::vector<std::int64_t>{1, 2, 3, 4}));
}

TEST_P(BatchStoreTest, AppendToUnknownJobThrowsAndStoresNothing) {
  EXPECT_THROW(store_->append("nope", make_records(1, 3)), std::runtime_error);
  EXPECT_TRUE(store_->results("nope", 0, 10).empty());
}

TEST_P(BatchStoreTest, AppendRefusesARecordWithNeitherRequestNorResultAndKeepsNoneOfTheChunk) {
  ASSERT_TRUE(store_->create_job(make_job("j1")));
  auto records = make_records(1, 3);
  records[1].request.clear();
  EXPECT_THROW(store_->append("j1", records), std::invalid_argument);
  EXPECT_EQ(job("j1").counts.total, 0);
  EXPECT_TRUE(store_->results("j1", 0, 10).empty());
  store_->append("j1", make_records(1, 3));  // the store is usable afterwards
  EXPECT_EQ(job("j1").counts.total, 3);
}

TEST_P(BatchStoreTest, PendingReturnsUnansweredRecordsWithRequestInOrder) {
  ASSERT_TRUE(store_->create_job(make_job("j1")));
  ASSERT_TRUE(store_->create_job(make_job("j2")));
  store_->append("j1", make_records(1, 10, {3, 7}));
  store_->append("j2", make_records(1, 10));
  ASSERT_EQ(store_->record_results("j1", {answer(5), answer(6)}, kNow), 2);

  const auto all = store_->pending("j1", 0, 100);
  EXPECT_EQ(lines_of(all), (std::vector<std::int64_t>{1, 2, 4, 8, 9, 10}));
  EXPECT_EQ(all[0].request, request_for(1));
  EXPECT_EQ(all[5].request, request_for(10));
  EXPECT_EQ(lines_of(store_->pending("j1", 0, 2)), (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(lines_of(store_->pending("j1", 2, 2)), (std::vector<std::int64_t>{4, 8}));
  EXPECT_EQ(lines_of(store_->pending("j1", 8, 100)), (std::vector<std::int64_t>{9, 10}));
  EXPECT_TRUE(store_->pending("j1", 10, 100).empty());
  EXPECT_TRUE(store_->pending("j1", 0, 0).empty());
  EXPECT_TRUE(store_->pending("nope", 0, 100).empty());
}

TEST_P(BatchStoreTest, RecordResultsKeepsTheFirstResultOfALine) {
  ASSERT_TRUE(store_->create_job(make_job("j1")));
  store_->append("j1", make_records(1, 4));
  EXPECT_EQ(store_->record_results("j1", {answer(1, Outcome::kMatched, "first")}, kNow + 1), 1);
  // Again in a later call, and twice within one call: counted once, the first result stays.
  EXPECT_EQ(store_->record_results("j1", {answer(1, Outcome::kFailed, "second")}, kNow + 2), 0);
  EXPECT_EQ(store_->record_results("j1",
                                   {answer(2, Outcome::kMismatched, "a"),
                                    answer(2, Outcome::kFailed, "b"), answer(99)},
                                   kNow + 3),
            1);
  const Job j = job("j1");
  EXPECT_EQ(j.counts.done, 2);
  EXPECT_EQ(j.counts.matched, 1);
  EXPECT_EQ(j.counts.mismatched, 1);
  EXPECT_EQ(j.counts.failed, 0);
  EXPECT_EQ(j.last_progress_ms, kNow + 3);
  const auto rows = store_->results("j1", 0, 10);
  EXPECT_EQ(rows[0].result, "first");
  EXPECT_EQ(rows[1].result, "a");
}

TEST_P(BatchStoreTest, AFinishedJobTakesNoMoreResults) {
  // A chunk's reply can arrive after its job was cancelled: its owner was already told the
  // counts and may have read the results, which must not change under it.
  for (const JobState end : {JobState::kCancelled, JobState::kFailed}) {
    const std::string id = std::string("j-") + std::string(to_string(end));
    ASSERT_TRUE(store_->create_job(make_job(id)));
    store_->append(id, make_records(1, 3));
    ASSERT_TRUE(store_->set_state(id, JobState::kRunning, kNow));
    ASSERT_EQ(store_->record_results(id, {answer(1)}, kNow + 1), 1);
    ASSERT_TRUE(store_->set_state(id, end, kNow + 2));
    EXPECT_EQ(store_->record_results(id, {answer(2), answer(3)}, kNow + 3), 0);
    EXPECT_EQ(job(id).counts.done, 1);
    EXPECT_EQ(job(id).last_progress_ms, kNow + 1);
    const auto rows = store_->results(id, 0, 10);
    ASSERT_EQ(rows.size(), 3U);
    EXPECT_FALSE(rows[1].result);
    EXPECT_FALSE(rows[2].result);
  }
}

TEST_P(BatchStoreTest, RecordResultsWithNothingNewLeavesProgressTimeAlone) {
  ASSERT_TRUE(store_->create_job(make_job("j1")));
  store_->append("j1", make_records(1, 2, {2}));
  ASSERT_EQ(store_->record_results("j1", {answer(1)}, kNow + 1), 1);
  // Line 1 answered already, line 2 invalid at upload.
  EXPECT_EQ(store_->record_results("j1", {answer(1), answer(2)}, kNow + 9), 0);
  EXPECT_EQ(job("j1").last_progress_ms, kNow + 1);
  EXPECT_EQ(job("j1").counts.done, 2);
  EXPECT_EQ(job("j1").counts.matched, 1);
  EXPECT_EQ(job("j1").counts.invalid, 1);
}

TEST_P(BatchStoreTest, RecordResultsCountsEachOutcome) {
  ASSERT_TRUE(store_->create_job(make_job("j1")));
  store_->append("j1", make_records(1, 9, {9}));
  EXPECT_EQ(store_->record_results("j1",
                                   {answer(1, Outcome::kMatched), answer(2, Outcome::kMatched),
                                    answer(3, Outcome::kMismatched), answer(4, Outcome::kNotFound),
                                    answer(5, Outcome::kNotFound), answer(6, Outcome::kNotFound),
                                    answer(7, Outcome::kFailed), answer(8, Outcome::kInvalid)},
                                   kNow),
            8);
  const Counts c = job("j1").counts;
  EXPECT_EQ(c.total, 9);
  EXPECT_EQ(c.done, 9);
  EXPECT_EQ(c.matched, 2);
  EXPECT_EQ(c.mismatched, 1);
  EXPECT_EQ(c.not_found, 3);
  EXPECT_EQ(c.failed, 1);
  EXPECT_EQ(c.invalid, 2);
  EXPECT_TRUE(store_->pending("j1", 0, 100).empty());
}

TEST_P(BatchStoreTest, ResultsReturnsEveryRecordInOrderWithNulloptForUnanswered) {
  ASSERT_TRUE(store_->create_job(make_job("j1")));
  store_->append("j1", make_records(1, 5));
  store_->record_results("j1", {answer(4), answer(2)}, kNow);
  const auto rows = store_->results("j1", 0, 100);
  ASSERT_EQ(rows.size(), 5U);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].line, static_cast<std::int64_t>(i) + 1);
  }
  EXPECT_EQ(rows[0].result, std::nullopt);
  EXPECT_EQ(rows[1].result, result_for(2));
  EXPECT_EQ(rows[2].result, std::nullopt);
  EXPECT_EQ(rows[3].result, result_for(4));
  const auto page = store_->results("j1", 2, 2);
  ASSERT_EQ(page.size(), 2U);
  EXPECT_EQ(page[0].line, 3);
  EXPECT_EQ(page[1].line, 4);
  EXPECT_TRUE(store_->results("j1", 5, 10).empty());
  EXPECT_TRUE(store_->results("j1", 0, 0).empty());
}

TEST_P(BatchStoreTest, SetStateStampsStartOnceAndFinish) {
  ASSERT_TRUE(store_->create_job(make_job("j1")));
  EXPECT_TRUE(store_->set_state("j1", JobState::kQueued, kNow + 1));
  EXPECT_EQ(job("j1").started_ms, 0);
  EXPECT_TRUE(store_->set_state("j1", JobState::kRunning, kNow + 2));
  EXPECT_EQ(job("j1").state, JobState::kRunning);
  EXPECT_EQ(job("j1").started_ms, kNow + 2);
  EXPECT_EQ(job("j1").last_progress_ms, kNow + 2);
  // Back to the queue (a restart) and running again: the first start stays.
  EXPECT_TRUE(store_->set_state("j1", JobState::kQueued, kNow + 3));
  EXPECT_TRUE(store_->set_state("j1", JobState::kRunning, kNow + 4));
  EXPECT_EQ(job("j1").started_ms, kNow + 2);
  EXPECT_EQ(job("j1").finished_ms, 0);
  EXPECT_TRUE(store_->set_state("j1", JobState::kCompleted, kNow + 5));
  EXPECT_EQ(job("j1").state, JobState::kCompleted);
  EXPECT_EQ(job("j1").finished_ms, kNow + 5);
  EXPECT_EQ(job("j1").error, "");
}

TEST_P(BatchStoreTest, SetStateKeepsProgressTimeOfARunningJob) {
  ASSERT_TRUE(store_->create_job(make_job("j1")));
  store_->append("j1", make_records(1, 2));
  ASSERT_TRUE(store_->set_state("j1", JobState::kRunning, kNow));
  store_->record_results("j1", {answer(1)}, kNow + 7);
  ASSERT_TRUE(store_->set_state("j1", JobState::kRunning, kNow + 8));
  EXPECT_EQ(job("j1").last_progress_ms, kNow + 7);
}

TEST_P(BatchStoreTest, SetStateRefusesAnyChangeOnceTerminal) {
  for (const auto terminal : {JobState::kCompleted, JobState::kFailed, JobState::kCancelled}) {
    const std::string id = "j-" + std::string(to_string(terminal));
    ASSERT_TRUE(store_->create_job(make_job(id)));
    ASSERT_TRUE(store_->set_state(id, JobState::kRunning, kNow));
    ASSERT_TRUE(store_->set_state(id, terminal, kNow + 1, "why"));
    for (const auto next : {JobState::kUploading, JobState::kQueued, JobState::kRunning,
                            JobState::kCompleted, JobState::kFailed, JobState::kCancelled}) {
      EXPECT_FALSE(store_->set_state(id, next, kNow + 2, "later")) << id;
    }
    const Job j = job(id);
    EXPECT_EQ(j.state, terminal);
    EXPECT_EQ(j.finished_ms, kNow + 1);
    EXPECT_EQ(j.error, "why");
  }
}

TEST_P(BatchStoreTest, SetStateRefusesAMissingJob) {
  EXPECT_FALSE(store_->set_state("nope", JobState::kRunning, kNow));
  EXPECT_EQ(store_->find_job("nope"), std::nullopt);
}

TEST_P(BatchStoreTest, SetStateRecordsTheErrorOnlyWhenGiven) {
  ASSERT_TRUE(store_->create_job(make_job("j1")));
  ASSERT_TRUE(store_->set_state("j1", JobState::kRunning, kNow, "slow registry"));
  ASSERT_TRUE(store_->set_state("j1", JobState::kQueued, kNow));
  EXPECT_EQ(job("j1").error, "slow registry");
  ASSERT_TRUE(store_->set_state("j1", JobState::kFailed, kNow, "no progress for 600 s"));
  EXPECT_EQ(job("j1").error, "no progress for 600 s");
}

TEST_P(BatchStoreTest, DiscardDeletesTheJobAndItsRecordsOnly) {
  ASSERT_TRUE(store_->create_job(make_job("j1", "partner-1", "key-1")));
  ASSERT_TRUE(store_->create_job(make_job("j2")));
  store_->append("j1", make_records(1, 5));
  store_->append("j2", make_records(1, 5));
  store_->discard("j1");
  EXPECT_EQ(store_->find_job("j1"), std::nullopt);
  EXPECT_TRUE(store_->results("j1", 0, 10).empty());
  EXPECT_EQ(store_->results("j2", 0, 10).size(), 5U);
  // Its idempotency key and id are free again.
  EXPECT_TRUE(store_->create_job(make_job("j1", "partner-1", "key-1")));
  EXPECT_TRUE(store_->results("j1", 0, 10).empty());
  store_->discard("nope");  // nothing to do
}

TEST_P(BatchStoreTest, PurgeFinishedDeletesOnlyTerminalJobsFinishedBeforeTheCutoff) {
  const std::int64_t cutoff = kNow + 100;
  const auto finish = [&](const std::string& id, JobState state, std::int64_t at) {
    ASSERT_TRUE(store_->create_job(make_job(id)));
    store_->append(id, make_records(1, 3));
    ASSERT_TRUE(store_->set_state(id, state, at));
  };
  finish("old-completed", JobState::kCompleted, cutoff - 1);
  finish("old-failed", JobState::kFailed, cutoff - 50);
  finish("old-cancelled", JobState::kCancelled, cutoff - 99);
  finish("at-cutoff", JobState::kCompleted, cutoff);
  finish("recent", JobState::kCompleted, cutoff + 1);
  finish("running", JobState::kRunning, cutoff - 90);
  finish("queued", JobState::kQueued, cutoff - 90);
  ASSERT_TRUE(store_->create_job(make_job("uploading")));

  EXPECT_EQ(store_->purge_finished(cutoff), 3);
  for (const char* gone : {"old-completed", "old-failed", "old-cancelled"}) {
    EXPECT_EQ(store_->find_job(gone), std::nullopt) << gone;
    EXPECT_TRUE(store_->results(gone, 0, 10).empty()) << gone;
  }
  for (const char* kept : {"at-cutoff", "recent", "running", "queued", "uploading"}) {
    EXPECT_TRUE(store_->find_job(kept).has_value()) << kept;
  }
  EXPECT_EQ(store_->results("recent", 0, 10).size(), 3U);
  EXPECT_EQ(store_->purge_finished(cutoff), 0);
}

TEST_P(BatchStoreTest, CountsJobsByState) {
  EXPECT_TRUE(store_->count_by_state().empty());
  for (const char* id : {"a", "b", "c", "d", "e", "f"})
    ASSERT_TRUE(store_->create_job(make_job(id)));
  ASSERT_TRUE(store_->set_state("b", JobState::kQueued, kNow));
  ASSERT_TRUE(store_->set_state("c", JobState::kQueued, kNow));
  ASSERT_TRUE(store_->set_state("d", JobState::kRunning, kNow));
  ASSERT_TRUE(store_->set_state("e", JobState::kCompleted, kNow));
  ASSERT_TRUE(store_->set_state("f", JobState::kCompleted, kNow));
  auto counts = store_->count_by_state();
  std::sort(counts.begin(), counts.end());
  EXPECT_EQ(counts, (std::vector<std::pair<JobState, std::int64_t>>{{JobState::kUploading, 1},
                                                                    {JobState::kQueued, 2},
                                                                    {JobState::kRunning, 1},
                                                                    {JobState::kCompleted, 2}}));
}

TEST_P(BatchStoreTest, ActiveJobsCountsThePartnersUnfinishedJobs) {
  for (const char* id : {"a", "b", "c", "d", "e", "f"})
    ASSERT_TRUE(store_->create_job(make_job(id)));
  ASSERT_TRUE(store_->create_job(make_job("other", "partner-2")));
  ASSERT_TRUE(store_->set_state("b", JobState::kQueued, kNow));
  ASSERT_TRUE(store_->set_state("c", JobState::kRunning, kNow));
  ASSERT_TRUE(store_->set_state("d", JobState::kCompleted, kNow));
  ASSERT_TRUE(store_->set_state("e", JobState::kFailed, kNow));
  ASSERT_TRUE(store_->set_state("f", JobState::kCancelled, kNow));
  EXPECT_EQ(store_->active_jobs("partner-1"), 3);
  EXPECT_EQ(store_->active_jobs("partner-2"), 1);
  EXPECT_EQ(store_->active_jobs("partner-3"), 0);
}

TEST_P(BatchStoreTest, JobsInListsJobsOfTheGivenStatesOldestFirst) {
  const auto create = [&](const std::string& id, std::int64_t created, JobState state) {
    Job j = make_job(id);
    j.created_ms = created;
    ASSERT_TRUE(store_->create_job(j));
    if (state != JobState::kUploading) {
      ASSERT_TRUE(store_->set_state(id, state, kNow));
    }
  };
  create("q-late", kNow + 30, JobState::kQueued);
  create("r-early", kNow + 10, JobState::kRunning);
  create("q-b", kNow + 20, JobState::kQueued);
  create("q-a", kNow + 20, JobState::kQueued);
  create("done", kNow + 5, JobState::kCompleted);
  create("up", kNow + 1, JobState::kUploading);
  std::vector<std::string> ids;
  for (const auto& j :
       store_->jobs_in({JobState::kQueued, JobState::kRunning, JobState::kQueued})) {
    ids.push_back(j.id);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"r-early", "q-a", "q-b", "q-late"}));
  EXPECT_TRUE(store_->jobs_in({}).empty());
  EXPECT_EQ(store_->jobs_in({JobState::kUploading}).at(0).id, "up");
}

TEST_P(BatchStoreTest, EverythingSurvivesClosingAndReopening) {
  ASSERT_TRUE(store_->create_job(make_job("j1", "partner-1", "key-1")));
  store_->append("j1", make_records(1, 6, {6}));
  ASSERT_TRUE(store_->set_state("j1", JobState::kRunning, kNow + 1));
  ASSERT_EQ(store_->record_results("j1", {answer(1), answer(2, Outcome::kNotFound)}, kNow + 2), 2);
  store_.reset();

  store_ = open();
  const Job j = job("j1");
  EXPECT_EQ(j.state, JobState::kRunning);
  EXPECT_EQ(j.started_ms, kNow + 1);
  EXPECT_EQ(j.last_progress_ms, kNow + 2);
  EXPECT_EQ(j.counts.total, 6);
  EXPECT_EQ(j.counts.done, 3);
  EXPECT_EQ(j.counts.matched, 1);
  EXPECT_EQ(j.counts.not_found, 1);
  EXPECT_EQ(j.counts.invalid, 1);
  EXPECT_EQ(store_->find_by_idempotency_key("partner-1", "key-1")->id, "j1");
  EXPECT_EQ(lines_of(store_->pending("j1", 0, 10)), (std::vector<std::int64_t>{3, 4, 5}));
  EXPECT_EQ(store_->results("j1", 0, 10).at(0).result, result_for(1));
  // The reopened store still refuses a second result and a reused key.
  EXPECT_EQ(store_->record_results("j1", {answer(1)}, kNow + 3), 0);
  EXPECT_FALSE(store_->create_job(make_job("j2", "partner-1", "key-1")));
}

TEST_P(BatchStoreTest, OpeningAnUnusablePathThrowsNamingIt) {
  if (GetParam() != Backend::kSqlite) GTEST_SKIP() << "a file store only";
  const std::string bad = (dir_ / "state").string();  // a directory, not a database
  try {
    open_sqlite_batch_store(bad);
    FAIL() << "opened a directory";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("batch store " + bad), std::string::npos) << e.what();
  }
}

TEST_P(BatchStoreTest, StorageErrorsNameTheStoreButNoRecordContents) {
  ASSERT_TRUE(store_->create_job(make_job("j1")));
  drop_records_table();
  try {
    store_->append("j1", make_records(1, 2));
    FAIL() << "append into a dropped table succeeded";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(store_name() + ": append failed: ", 0), 0U) << what;
    EXPECT_EQ(what.find("request-"), std::string::npos) << what;
  }
  EXPECT_EQ(job("j1").counts.total, 0);
}

TEST_P(BatchStoreTest, ConcurrentCallersEachRecordTheirOwnResults) {
  ASSERT_TRUE(store_->create_job(make_job("j1")));
  store_->append("j1", make_records(1, 2000));
  std::atomic<std::int64_t> recorded{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      // Every thread answers every line; only one answer per line counts.
      for (std::int64_t from = 1; from <= 2000; from += 100) {
        std::vector<RecordResult> chunk;
        for (std::int64_t line = from; line < from + 100; ++line) {
          chunk.push_back(answer(line, t % 2 == 0 ? Outcome::kMatched : Outcome::kNotFound));
        }
        recorded += store_->record_results("j1", chunk, kNow);
        store_->pending("j1", from, 10);
      }
    });
  }
  for (auto& th : threads) th.join();
  const Counts c = job("j1").counts;
  EXPECT_EQ(recorded.load(), 2000);
  EXPECT_EQ(c.done, 2000);
  EXPECT_EQ(c.matched + c.not_found, 2000);
}

TEST_P(BatchStoreTest, LargeJobCompletesWithEveryRecordAnsweredOnce) {
  constexpr std::int64_t kRecords = 200'000;
  constexpr std::int64_t kAppendChunk = 500;
  constexpr std::size_t kResultChunk = 200;
  ASSERT_TRUE(store_->create_job(make_job("big")));
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t from = 1; from <= kRecords; from += kAppendChunk) {
    store_->append("big", make_records(from, from + kAppendChunk - 1));
  }
  const auto appended = std::chrono::steady_clock::now();
  ASSERT_TRUE(store_->set_state("big", JobState::kRunning, kNow));

  // As the dispatcher does: page through pending() with a cursor, answer each page.
  std::int64_t cursor = 0;
  std::int64_t recorded = 0;
  for (;;) {
    const auto page = store_->pending("big", cursor, kResultChunk);
    if (page.empty()) break;
    std::vector<RecordResult> chunk;
    chunk.reserve(page.size());
    for (const auto& r : page) chunk.push_back(answer(r.line));
    recorded += store_->record_results("big", chunk, kNow + 1);
    cursor = page.back().line;
  }
  const auto answered = std::chrono::steady_clock::now();

  const Job j = job("big");
  EXPECT_EQ(recorded, kRecords);
  EXPECT_EQ(j.counts.total, kRecords);
  EXPECT_EQ(j.counts.done, j.counts.total);
  EXPECT_EQ(j.counts.matched, kRecords);
  EXPECT_TRUE(store_->pending("big", 0, 10).empty());
  const auto last = store_->results("big", kRecords - 1, 10);
  ASSERT_EQ(last.size(), 1U);
  EXPECT_EQ(last[0].result, result_for(kRecords));

  using Ms = std::chrono::milliseconds;
  std::printf("[ info     ] %lld records: append %lld ms, pending+record_results %lld ms\n",
              static_cast<long long>(kRecords),
              static_cast<long long>(std::chrono::duration_cast<Ms>(appended - start).count()),
              static_cast<long long>(std::chrono::duration_cast<Ms>(answered - appended).count()));
}

// Leases: which instance works a job (BatchStore::claim).

constexpr std::int64_t kLease = 15'000;

std::vector<std::string> ids_of(const std::vector<Job>& jobs) {
  std::vector<std::string> out;
  for (const auto& j : jobs) out.push_back(j.id);
  return out;
}

class BatchStoreLeaseTest : public BatchStoreTest {
 protected:
  /// A job created at kNow + `age`, uploaded (3 records) and queued.
  void queue(const std::string& id, std::int64_t age = 0, const std::string& owner = "a") {
    Job j = make_job(id);
    j.created_ms = kNow + age;
    j.owner = owner;
    j.lease_until_ms = kNow + kLease;
    ASSERT_TRUE(store_->create_job(j));
    store_->append(id, make_records(1, 3));
    ASSERT_TRUE(store_->set_state(id, JobState::kQueued, kNow + age));
  }
  /// An upload in progress held by `owner` until `until`.
  void upload(const std::string& id, const std::string& owner, std::int64_t until) {
    Job j = make_job(id);
    j.owner = owner;
    j.lease_until_ms = until;
    ASSERT_TRUE(store_->create_job(j));
    store_->append(id, make_records(1, 3));
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, BatchStoreLeaseTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& p) { return backend_name(p.param); });

TEST_P(BatchStoreLeaseTest, ClaimStartsQueuedJobsOldestFirstUpToTheOwnersLimit) {
  queue("q-late", 30);
  queue("q-early", 10);
  queue("q-mid", 20);
  const Claim c = store_->claim("a", kNow + 100, kLease, 2);
  EXPECT_EQ(ids_of(c.running), (std::vector<std::string>{"q-early", "q-mid"}));
  for (const auto& j : c.running) {
    EXPECT_EQ(j.state, JobState::kRunning);
    EXPECT_EQ(j.owner, "a");
    EXPECT_EQ(j.lease_until_ms, kNow + 100 + kLease);
    EXPECT_EQ(j.started_ms, kNow + 100);
    // The stall clock starts now, not when the job was queued.
    EXPECT_EQ(j.last_progress_ms, kNow + 100);
  }
  EXPECT_EQ(job("q-late").state, JobState::kQueued);
  // At its limit the owner takes no more; another owner takes the rest.
  EXPECT_EQ(ids_of(store_->claim("a", kNow + 200, kLease, 2).running),
            (std::vector<std::string>{"q-early", "q-mid"}));
  EXPECT_EQ(job("q-mid").lease_until_ms, kNow + 200 + kLease);
  EXPECT_TRUE(store_->claim("a", kNow + 300, kLease, 2).taken_over.empty());
}

TEST_P(BatchStoreLeaseTest, FinishedJobsLeaveTheOwnersRunningJobs) {
  queue("j1");
  queue("j2", 1);
  ASSERT_EQ(store_->claim("a", kNow, kLease, 4).running.size(), 2U);
  ASSERT_TRUE(store_->set_state("j1", JobState::kCancelled, kNow + 1));
  EXPECT_EQ(ids_of(store_->claim("a", kNow + 2, kLease, 4).running),
            (std::vector<std::string>{"j2"}));
  EXPECT_EQ(job("j1").state, JobState::kCancelled);
}

TEST_P(BatchStoreLeaseTest, AnOwnersOwnUploadsAreRenewedAndNeverDiscarded) {
  upload("up", "a", kNow + kLease);
  const Claim c = store_->claim("a", kNow + 10 * kLease, kLease, 4);
  EXPECT_TRUE(c.discarded.empty());
  EXPECT_TRUE(c.running.empty());
  EXPECT_EQ(job("up").lease_until_ms, kNow + 11 * kLease);
  EXPECT_EQ(job("up").state, JobState::kUploading);
}

TEST_P(BatchStoreLeaseTest, AnotherInstancesLapsedUploadIsDiscardedWithItsRecords) {
  upload("up", "dead", kNow + kLease);
  const Claim c = store_->claim("b", kNow + kLease + 1, kLease, 4);
  EXPECT_EQ(ids_of(c.discarded), (std::vector<std::string>{"up"}));
  EXPECT_EQ(c.discarded.at(0).owner, "dead");
  EXPECT_EQ(store_->find_job("up"), std::nullopt);
  EXPECT_TRUE(store_->results("up", 0, 10).empty());
}

TEST_P(BatchStoreLeaseTest, ALapsedRunningJobIsTakenOverWithItsResultsKept) {
  queue("j1");
  ASSERT_EQ(store_->claim("dead", kNow, kLease, 4).running.size(), 1U);
  ASSERT_EQ(store_->record_results("j1", {answer(1)}, kNow + 1), 1);
  const Claim c = store_->claim("b", kNow + kLease + 1, kLease, 4);
  EXPECT_EQ(c.taken_over, (std::vector<std::string>{"j1"}));
  ASSERT_EQ(c.running.size(), 1U);
  EXPECT_EQ(c.running[0].owner, "b");
  EXPECT_EQ(c.running[0].counts.done, 1);
  EXPECT_EQ(lines_of(store_->pending("j1", 0, 10)), (std::vector<std::int64_t>{2, 3}));
  // The instance that lost it (only slow, not dead) no longer finds it among its jobs. (A
  // file store takes it back: there, any other owner is a previous run.)
  if (store_->shared()) {
    EXPECT_TRUE(store_->claim("dead", kNow + kLease + 2, kLease, 4).running.empty());
  }
}

TEST_P(BatchStoreLeaseTest, ALiveLeaseIsOnlyTakenFromAPreviousRunOfAFileStore) {
  queue("j1");
  upload("up", "a", kNow + kLease);
  ASSERT_EQ(store_->claim("a", kNow, kLease, 4).running.size(), 1U);
  // Well within a's lease.
  const Claim c = store_->claim("b", kNow + 1, kLease, 4);
  if (GetParam() == Backend::kSqlite) {
    // One process per file: "a" can only be this process before it restarted.
    EXPECT_EQ(c.taken_over, (std::vector<std::string>{"j1"}));
    EXPECT_EQ(ids_of(c.discarded), (std::vector<std::string>{"up"}));
    EXPECT_FALSE(store_->shared());
  } else {
    EXPECT_TRUE(c.taken_over.empty());
    EXPECT_TRUE(c.discarded.empty());
    EXPECT_TRUE(c.running.empty());
    EXPECT_EQ(job("j1").owner, "a");
    EXPECT_TRUE(store_->shared());
  }
}

TEST_P(BatchStoreLeaseTest, RenewalKeepsAJobFromBeingTakenOver) {
  if (GetParam() == Backend::kSqlite) GTEST_SKIP() << "a file store has one process";
  queue("j1");
  ASSERT_EQ(store_->claim("a", kNow, kLease, 4).running.size(), 1U);
  ASSERT_EQ(store_->claim("a", kNow + kLease - 1, kLease, 4).running.size(), 1U);
  // Past the first lease, within the renewed one.
  EXPECT_TRUE(store_->claim("b", kNow + kLease + 1, kLease, 4).running.empty());
  EXPECT_EQ(job("j1").owner, "a");
  EXPECT_EQ(store_->claim("b", kNow + 2 * kLease, kLease, 4).taken_over,
            (std::vector<std::string>{"j1"}));
}

TEST_P(BatchStoreLeaseTest, ReleasedLeasesAreTakenOverAtOnce) {
  if (GetParam() == Backend::kSqlite) GTEST_SKIP() << "a file store has one process";
  queue("j1");
  upload("up", "a", kNow + kLease);
  ASSERT_EQ(store_->claim("a", kNow, kLease, 4).running.size(), 1U);
  store_->release("a");  // "a" stops
  const Claim c = store_->claim("b", kNow + 1, kLease, 4);
  EXPECT_EQ(c.taken_over, (std::vector<std::string>{"j1"}));
  EXPECT_EQ(ids_of(c.discarded), (std::vector<std::string>{"up"}));
}

TEST_P(BatchStoreLeaseTest, ConcurrentClaimsNeverHandOneJobToTwoInstances) {
  if (GetParam() == Backend::kSqlite) GTEST_SKIP() << "a file store has one process";
  constexpr int kJobs = 40;
  for (int i = 0; i < kJobs; ++i) queue("j" + std::to_string(100 + i), i);
  // Four replicas, each with its own connection, claiming at once, a few jobs at a time.
  std::vector<std::vector<std::string>> held(4);
  std::vector<std::thread> replicas;
  for (std::size_t r = 0; r < held.size(); ++r) {
    replicas.emplace_back([&, r] {
      const auto store = open();
      const std::string me = "replica-" + std::to_string(r);
      for (std::size_t limit = 1; limit <= kJobs; ++limit) {
        held[r] = ids_of(store->claim(me, kNow, kLease, limit).running);
      }
    });
  }
  for (auto& t : replicas) t.join();
  std::vector<std::string> all;
  for (const auto& h : held) all.insert(all.end(), h.begin(), h.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "a job held twice";
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kJobs));
  for (std::size_t r = 0; r < held.size(); ++r) {
    for (const auto& id : held[r]) EXPECT_EQ(job(id).owner, "replica-" + std::to_string(r));
  }
}

}  // namespace
}  // namespace lgsp::batch
