#include "audit/chain.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "audit/store.hpp"
#include "connectors/backends/sqlite.hpp"

// The audit chain against SQLite always, and against PostgreSQL when LGSP_TEST_PG_DSN is set
// (tests/support/with_postgres.sh starts a throwaway server). Each test gets its own SQLite
// file or PostgreSQL schema, and tampers with the tables through a separate raw connection,
// as an insider with database access would.

namespace lgsp::audit {
namespace {

enum class Backend { kSqlite, kPostgres };

std::string unique_name() {
  static std::atomic<int> counter{0};
  return "lgsp_audit_test_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
}

AuditRecord make_record(const std::string& event_id, std::vector<std::string> subjects = {"s-a"},
                        std::vector<std::string> fields = {"full_name", "date_of_birth"}) {
  AuditRecord r;
  r.event_id = event_id;
  r.time_unix_ms = 1'700'000'000'000;
  r.request_id = "req-" + event_id;
  r.partner_id = "partner-1";
  r.operation = "citizen.profile";
  r.subject_hashes = std::move(subjects);
  r.purpose = "benefit eligibility";
  r.on_behalf_of = "officer-7";
  r.procedure_code = "PROC-42";
  r.fields_released = std::move(fields);
  r.outcome = "ok";
  r.http_status = 200;
  r.latency_us = 1234;
  return r;
}

std::vector<AuditRecord> make_records(int from, int to) {
  std::vector<AuditRecord> out;
  for (int i = from; i <= to; ++i) out.push_back(make_record("e" + std::to_string(i)));
  return out;
}

class AuditFixture : public ::testing::Test {
 protected:
  void start(Backend backend) {
    backend_ = backend;
    if (backend_ == Backend::kSqlite) {
      path_ = (std::filesystem::temp_directory_path() / (unique_name() + ".db")).string();
    } else {
      const char* dsn = std::getenv("LGSP_TEST_PG_DSN");  // NOLINT(concurrency-mt-unsafe)
      if (dsn == nullptr) GTEST_SKIP() << "LGSP_TEST_PG_DSN not set (see with_postgres.sh)";
      schema_ = unique_name();
      admin_dsn_ = dsn;
      pqxx::connection admin(admin_dsn_);
      pqxx::nontransaction(admin).exec("CREATE SCHEMA " + schema_);
      dsn_ = admin_dsn_ + " options='-csearch_path=" + schema_ + "'";
    }
    store_ = open();
  }

  void TearDown() override {
    store_.reset();
    if (!path_.empty()) {
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
    }
    if (!schema_.empty()) {
      pqxx::connection admin(admin_dsn_);
      pqxx::nontransaction(admin).exec("DROP SCHEMA " + schema_ + " CASCADE");
    }
  }

  /// A new store object on the same storage.
  std::unique_ptr<AuditStore> open() const {
    return backend_ == Backend::kSqlite ? open_sqlite_audit_store(path_)
                                        : open_postgres_audit_store(dsn_);
  }

  /// SQL run behind the store's back.
  void raw(const std::string& sql) const {
    if (backend_ == Backend::kSqlite) {
      const auto db = connectors::sqlite::open(path_, SQLITE_OPEN_READWRITE);
      connectors::sqlite::exec(db.get(), sql.c_str());
    } else {
      pqxx::connection conn(dsn_);
      pqxx::nontransaction(conn).exec(sql);
    }
  }

  std::vector<AuditRecord> all() const {
    std::vector<AuditRecord> out;
    store_->scan([&](const AuditRecord& r) { out.push_back(r); });
    return out;
  }

  /// What an attacker who knows the public hash format does: changes a record and gives it
  /// a correct hash of its own.
  void rewrite(std::int64_t seq, const std::string& column, const std::string& value) {
    AuditRecord r = all().at(static_cast<std::size_t>(seq - 1));
    if (column == "partner_id") r.partner_id = value;
    if (column == "prev_hash") r.prev_hash = value;
    raw("UPDATE audit_log SET " + column + " = '" + value + "', hash = '" + chain_hash(r) +
        "' WHERE seq = " + std::to_string(seq));
  }

  Backend backend_ = Backend::kSqlite;
  std::string path_;
  std::string schema_;
  std::string admin_dsn_;
  std::string dsn_;
  std::unique_ptr<AuditStore> store_;
};

class AuditStoreTest : public AuditFixture, public ::testing::WithParamInterface<Backend> {
 protected:
  void SetUp() override { start(GetParam()); }
};

std::string backend_name(Backend b) { return b == Backend::kSqlite ? "Sqlite" : "Postgres"; }

INSTANTIATE_TEST_SUITE_P(Backends, AuditStoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& p) { return backend_name(p.param); });

TEST_P(AuditStoreTest, AppendAssignsSeqAndLinksHashes) {
  EXPECT_EQ(store_->append(make_records(1, 3)), 3U);
  const auto records = all();
  ASSERT_EQ(records.size(), 3U);
  EXPECT_EQ(store_->count(), 3);
  std::string prev;
  for (std::size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].seq, static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(records[i].event_id, "e" + std::to_string(i + 1));
    EXPECT_EQ(records[i].prev_hash, prev);
    EXPECT_EQ(records[i].hash, chain_hash(records[i]));
    EXPECT_EQ(records[i].hash.size(), 64U);
    prev = records[i].hash;
  }
  EXPECT_EQ(records[1].fields_released, (std::vector<std::string>{"full_name", "date_of_birth"}));
}

TEST_P(AuditStoreTest, DuplicateEventIdIsIgnoredAndLeavesChainUnchanged) {
  ASSERT_EQ(store_->append(make_records(1, 2)), 2U);
  const std::string head = verify_chain(*store_).head_hash;
  EXPECT_EQ(store_->append(make_records(2, 2)), 0U);
  EXPECT_EQ(store_->count(), 2);
  EXPECT_EQ(verify_chain(*store_).head_hash, head);
  // A batch mixing a redelivery, a new event and its own duplicate appends the new one once.
  EXPECT_EQ(store_->append({make_record("e1"), make_record("e3"), make_record("e3")}), 1U);
  EXPECT_EQ(store_->count(), 3);
  EXPECT_TRUE(verify_chain(*store_).ok);
}

TEST_P(AuditStoreTest, VerifyAcceptsIntactChain) {
  store_->append(make_records(1, 3));
  store_->append(make_records(4, 5));
  const VerifyReport report = verify_chain(*store_);
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 5);
  EXPECT_EQ(report.head_hash, all().back().hash);
  EXPECT_EQ(report.first_bad_seq, 0);
  EXPECT_EQ(report.problem, "");
}

TEST_P(AuditStoreTest, VerifyAcceptsEmptyChain) {
  const VerifyReport report = verify_chain(*store_);
  EXPECT_TRUE(report.ok);
  EXPECT_EQ(report.records, 0);
  EXPECT_EQ(report.head_hash, "");
}

TEST_P(AuditStoreTest, VerifyReportsDeletedMiddleRecord) {
  store_->append(make_records(1, 5));
  raw("DELETE FROM audit_log WHERE seq = 3");
  const VerifyReport report = verify_chain(*store_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 3);
  EXPECT_EQ(report.problem, "record 3 missing: chain jumps from 2 to 4");
  EXPECT_EQ(report.records, 4);
}

TEST_P(AuditStoreTest, VerifyReportsSwappedRecords) {
  store_->append(make_records(1, 4));
  raw("UPDATE audit_log SET seq = -1 WHERE seq = 2");
  raw("UPDATE audit_log SET seq = 2 WHERE seq = 3");
  raw("UPDATE audit_log SET seq = 3 WHERE seq = -1");
  const VerifyReport report = verify_chain(*store_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 2);
  EXPECT_NE(report.problem.find("record 2: contents altered"), std::string::npos) << report.problem;
  EXPECT_NE(report.problem.find("reordered"), std::string::npos) << report.problem;
}

TEST_P(AuditStoreTest, VerifyReportsTamperedFirstRecord) {
  store_->append(make_records(1, 3));
  raw("UPDATE audit_log SET partner_id = 'partner-2' WHERE seq = 1");
  const VerifyReport report = verify_chain(*store_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 1);
  EXPECT_EQ(report.problem, "record 1: contents altered (hash mismatch)");
}

TEST_P(AuditStoreTest, VerifyReportsFirstRecordWithNonEmptyPrevHash) {
  store_->append(make_records(1, 2));
  rewrite(1, "prev_hash", "0000");
  const VerifyReport report = verify_chain(*store_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 1);
  EXPECT_NE(report.problem.find("record 1: prev_hash is not empty"), std::string::npos)
      << report.problem;
}

TEST_P(AuditStoreTest, VerifyReportsDeletedFirstRecord) {
  store_->append(make_records(1, 3));
  raw("DELETE FROM audit_log WHERE seq = 1");
  const VerifyReport report = verify_chain(*store_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 1);
  EXPECT_EQ(report.problem, "record 1 missing: the chain starts at 2");
}

TEST_P(AuditStoreTest, RecordRewrittenWithValidHashBreaksTheNextLink) {
  store_->append(make_records(1, 5));
  rewrite(3, "partner_id", "someone-else");
  const VerifyReport report = verify_chain(*store_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 4);
  EXPECT_NE(report.problem.find("record 4: not linked to record 3"), std::string::npos)
      << report.problem;
}

TEST_P(AuditStoreTest, ExpectedHeadDetectsTailTruncation) {
  store_->append(make_records(1, 5));
  const VerifyReport noted = verify_chain(*store_);
  raw("DELETE FROM audit_subject WHERE seq = 5");
  raw("DELETE FROM audit_log WHERE seq = 5");
  EXPECT_TRUE(verify_chain(*store_).ok);  // the chain alone cannot show a cut tail

  const VerifyReport by_count = verify_chain(*store_, {noted.records, noted.head_hash});
  EXPECT_FALSE(by_count.ok);
  EXPECT_EQ(by_count.first_bad_seq, 5);
  EXPECT_NE(by_count.problem.find("removed from the end"), std::string::npos) << by_count.problem;
  const VerifyReport by_hash = verify_chain(*store_, {0, noted.head_hash});
  EXPECT_FALSE(by_hash.ok);
  EXPECT_NE(by_hash.problem.find("is not in the chain"), std::string::npos) << by_hash.problem;
}

TEST_P(AuditStoreTest, ExpectedHeadStillMatchesAfterTheChainGrows) {
  store_->append(make_records(1, 3));
  const VerifyReport noted = verify_chain(*store_);
  store_->append(make_records(4, 6));
  EXPECT_TRUE(verify_chain(*store_, {3, noted.head_hash}).ok);
  EXPECT_TRUE(verify_chain(*store_, {0, noted.head_hash}).ok);
  EXPECT_TRUE(verify_chain(*store_, {3, ""}).ok);
  const VerifyReport wrong = verify_chain(*store_, {3, std::string(64, 'f')});
  EXPECT_FALSE(wrong.ok);
  EXPECT_EQ(wrong.first_bad_seq, 3);
}

TEST_P(AuditStoreTest, VerifyReportsDeletedSubjectIndexRow) {
  store_->append(make_records(1, 3));
  raw("DELETE FROM audit_subject WHERE seq = 2");
  EXPECT_EQ(store_->by_subject("s-a", 0, 10).size(), 2U);  // record 2 hidden from the citizen
  const VerifyReport report = verify_chain(*store_);
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.problem.find("subject index"), std::string::npos) << report.problem;
}

TEST_P(AuditStoreTest, UnparsableListColumnIsReportedAsAltered) {
  store_->append(make_records(1, 3));
  raw("UPDATE audit_log SET subject_hashes = 'not json' WHERE seq = 2");
  const VerifyReport report = verify_chain(*store_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 2);
  EXPECT_NE(report.problem.find("record 2: contents altered (subject_hashes"), std::string::npos)
      << report.problem;
}

TEST_P(AuditStoreTest, BySubjectPagesNewestFirst) {
  for (int i = 1; i <= 7; ++i) {
    const std::string subject = i % 2 == 1 ? "s-odd" : "s-even";
    store_->append({make_record("e" + std::to_string(i), {subject})});
  }
  const auto page1 = store_->by_subject("s-odd", 0, 3);
  ASSERT_EQ(page1.size(), 3U);
  EXPECT_EQ(page1[0].seq, 7);
  EXPECT_EQ(page1[1].seq, 5);
  EXPECT_EQ(page1[2].seq, 3);
  const auto page2 = store_->by_subject("s-odd", page1.back().seq, 3);
  ASSERT_EQ(page2.size(), 1U);
  EXPECT_EQ(page2[0].seq, 1);
  EXPECT_EQ(page2[0].event_id, "e1");
  EXPECT_TRUE(store_->by_subject("s-odd", 1, 3).empty());
  EXPECT_TRUE(store_->by_subject("s-none", 0, 3).empty());
  EXPECT_TRUE(store_->by_subject("s-odd", 0, 0).empty());
}

TEST_P(AuditStoreTest, AccessLogReadsAreChainedButNotListed) {
  store_->append({make_record("e1", {"s-a"})});
  auto read = make_record("e2", {"s-a"});
  read.operation = "audit.access-log";
  store_->append({read});
  const auto listed = store_->by_subject("s-a", 0, 10);
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0].event_id, "e1");
  EXPECT_EQ(store_->count(), 2);
}

TEST_P(AuditStoreTest, RecordWithSeveralSubjectsShowsUnderEach) {
  store_->append({make_record("e1", {"s-x"}), make_record("e2", {"s-x", "s-y", "s-y"}),
                  make_record("e3", {})});
  const auto x = store_->by_subject("s-x", 0, 10);
  const auto y = store_->by_subject("s-y", 0, 10);
  ASSERT_EQ(x.size(), 2U);
  ASSERT_EQ(y.size(), 1U);  // a subject listed twice in one record still shows once
  EXPECT_EQ(x[0].seq, 2);
  EXPECT_EQ(y[0].seq, 2);
  EXPECT_EQ(y[0].subject_hashes, (std::vector<std::string>{"s-x", "s-y", "s-y"}));
  EXPECT_EQ(y[0].hash, chain_hash(y[0]));
  EXPECT_TRUE(verify_chain(*store_).ok);
}

TEST_P(AuditStoreTest, SecondStoreOnSameStorageContinuesTheChain) {
  store_->append(make_records(1, 2));
  const auto second = open();
  EXPECT_EQ(second->append(make_records(3, 3)), 1U);
  EXPECT_EQ(store_->append(make_records(4, 4)), 1U);  // the first store re-reads the head
  const auto records = all();
  ASSERT_EQ(records.size(), 4U);
  EXPECT_EQ(records[2].prev_hash, records[1].hash);
  EXPECT_EQ(records[3].prev_hash, records[2].hash);
  const VerifyReport report = verify_chain(*second);
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 4);
}

TEST_P(AuditStoreTest, ConcurrentAppendersKeepOneChain) {
  constexpr int kBatches = 20;
  auto appender = [&](const std::string& prefix) {
    const auto store = open();
    for (int i = 0; i < kBatches; ++i) {
      store->append({make_record(prefix + std::to_string(i) + "a"),
                     make_record(prefix + std::to_string(i) + "b")});
    }
  };
  std::thread a(appender, "a");
  std::thread b(appender, "b");
  a.join();
  b.join();
  const VerifyReport report = verify_chain(*store_);
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 4 * kBatches);
}

// One column changed in place, for every stored column.
struct Tamper {
  const char* column;
  const char* assignment;
};

void PrintTo(const Tamper& t, std::ostream* os) { *os << t.column; }
void PrintTo(Backend b, std::ostream* os) {
  *os << (b == Backend::kSqlite ? "sqlite" : "postgres");
}

class ColumnTamperTest : public AuditFixture,
                         public ::testing::WithParamInterface<std::tuple<Backend, Tamper>> {
 protected:
  void SetUp() override { start(std::get<0>(GetParam())); }
};

TEST_P(ColumnTamperTest, VerifyReportsTheAlteredRecord) {
  store_->append(make_records(1, 3));
  raw(std::string("UPDATE audit_log SET ") + std::get<1>(GetParam()).assignment + " WHERE seq = 2");
  const VerifyReport report = verify_chain(*store_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 2);
  EXPECT_EQ(report.problem.rfind("record 2: contents altered", 0), 0U) << report.problem;
}

INSTANTIATE_TEST_SUITE_P(
    Columns, ColumnTamperTest,
    ::testing::Combine(
        ::testing::Values(Backend::kSqlite, Backend::kPostgres),
        ::testing::Values(
            Tamper{"event_id", "event_id = 'forged'"},
            Tamper{"time_unix_ms", "time_unix_ms = time_unix_ms + 1"},
            Tamper{"request_id", "request_id = 'forged'"},
            Tamper{"partner_id", "partner_id = 'forged'"},
            Tamper{"operation", "operation = 'population.verify'"},
            Tamper{"subject_hashes", "subject_hashes = '[\"s-b\"]'"},
            Tamper{"subject_hashes_removed", "subject_hashes = '[]'"},
            Tamper{"purpose", "purpose = 'forged'"}, Tamper{"on_behalf_of", "on_behalf_of = ''"},
            Tamper{"procedure_code", "procedure_code = 'forged'"},
            Tamper{"fields_released", "fields_released = '[\"full_name\"]'"},
            Tamper{"fields_released_added",
                   "fields_released = '[\"full_name\",\"date_of_birth\",\"address\"]'"},
            Tamper{"outcome", "outcome = 'denied'"}, Tamper{"http_status", "http_status = 403"},
            Tamper{"latency_us", "latency_us = latency_us + 1"},
            Tamper{"prev_hash", "prev_hash = 'forged'"}, Tamper{"hash", "hash = 'forged'"})),
    [](const auto& p) {
      return backend_name(std::get<0>(p.param)) + "_" + std::get<1>(p.param).column;
    });

}  // namespace
}  // namespace lgsp::audit
