#include "audit/chain.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "audit/store.hpp"
#include "util/clock.hpp"
#include "util/signing.hpp"
#include "util/sqlite.hpp"

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

/// A record of bulk job "job-1": its submission (no subjects, the job's count) or one chunk
/// (the chunk's subjects).
AuditRecord batch_record(const std::string& event_id, std::vector<std::string> subjects,
                         std::int64_t subject_count) {
  AuditRecord r = make_record(event_id, std::move(subjects), {});
  r.operation = "population.batch-verify";
  r.batch_id = "job-1";
  r.subject_count = subject_count;
  return r;
}

/// audit_log's columns, in table order, for a table created now or migrated from v1.
const std::vector<std::string> kExpectedLogColumns = {"seq",
                                                      "event_id",
                                                      "time_unix_ms",
                                                      "request_id",
                                                      "partner_id",
                                                      "operation",
                                                      "subject_hashes",
                                                      "purpose",
                                                      "on_behalf_of",
                                                      "procedure_code",
                                                      "fields_released",
                                                      "outcome",
                                                      "http_status",
                                                      "latency_us",
                                                      "prev_hash",
                                                      "hash",
                                                      "batch_id",
                                                      "subject_count",
                                                      "source",
                                                      "source_seq",
                                                      "withheld_until_ms",
                                                      "withholding_ref",
                                                      "consent_id"};

/// The record whose hash is pinned below: every field set, a non-empty prev_hash.
AuditRecord pinned_record() {
  AuditRecord r = make_record("e7", {"s-a", "s-b"});
  r.seq = 7;
  r.prev_hash = std::string(64, 'a');
  return r;
}

// Computed by chain_hash() as it was before batch_id and subject_count existed (and
// independently from the format in audit/README.md): a record without them must keep this
// hash, or every chain stored before the bulk-job release would fail verification.
TEST(AuditChainHash, RecordWithoutBatchFieldsHashesAsBeforeTheBatchExtension) {
  EXPECT_EQ(chain_hash(pinned_record()),
            "2664c56c7c11f166e78b6c175d7e41f88de807512dcb5794a9b208a51b0879b5");
}

// Computed outside this code from the v2 extension as audit/README.md documents it.
TEST(AuditChainHash, BatchFieldsExtendTheEncodingAsDocumented) {
  AuditRecord r = pinned_record();
  r.batch_id = "job-1";
  r.subject_count = 2;
  EXPECT_EQ(chain_hash(r), "61bce9ea0ce74f5486015a2b90e07cc6b3921fac6edba496d672a2c4b7157e9c");
}

// Computed outside this code from the v3 extension as audit/README.md documents it, alone and
// after the v2 one.
TEST(AuditChainHash, SourceFieldsExtendTheEncodingAsDocumented) {
  AuditRecord r = pinned_record();
  r.source = "gateway-0-abc";
  r.source_seq = 5;
  EXPECT_EQ(chain_hash(r), "30ea59fd882deebbb86cbeb78da41f53b205fbf8e964e31edb84831479a0cd77");
  r.batch_id = "job-1";
  r.subject_count = 2;
  EXPECT_EQ(chain_hash(r), "a81880fce59c4e2df4c7c1ea577decab56d624b2a11d073dbd9b32b6946311fd");
}

// Computed outside this code (a Python rendering of audit/README.md) from the v4 extension,
// alone and after the v3 one.
TEST(AuditChainHash, WithholdingFieldsExtendTheEncodingAsDocumented) {
  AuditRecord r = pinned_record();
  r.withheld_until_ms = 1'800'000'000'000;
  r.withholding_ref = "VKS-2026/77";
  EXPECT_EQ(chain_hash(r), "071e00e4a9764121ec2736d2e6fbaa17940d6510caf27ebe23465343a6375588");
  r.source = "gateway-0-abc";
  r.source_seq = 5;
  EXPECT_EQ(chain_hash(r), "bc06fa6d196e6c39f5b80f91f901a4f4a6aa6bdd37554dd90919c39cf110c5d5");
}

// Computed outside this code (a Python rendering of audit/README.md) from the v5 extension,
// alone and after the v4 one.
TEST(AuditChainHash, ConsentExtendsTheEncodingAsDocumented) {
  AuditRecord r = pinned_record();
  r.consent_id = "cs-0123456789abcdef0123456789abcdef";
  EXPECT_EQ(chain_hash(r), "239dd70bbfb19253bf9969c06a6a28bbd55b38736f9f090e096ce1d10c70e97e");
  r.withheld_until_ms = 1'800'000'000'000;
  r.withholding_ref = "VKS-2026/77";
  EXPECT_EQ(chain_hash(r), "188374094e5be423307fc1909aa410f58c0d9aede35e5393939c2d86de25dc82");
}

TEST(AuditChainHash, EachBatchFieldValueHashesDifferently) {
  const AuditRecord plain = pinned_record();
  AuditRecord id_only = plain;
  id_only.batch_id = "job-1";
  AuditRecord count_only = plain;
  count_only.subject_count = 2;
  AuditRecord both = id_only;
  both.subject_count = 2;
  AuditRecord other_count = both;
  other_count.subject_count = 3;
  AuditRecord other_id = both;
  other_id.batch_id = "job-2";
  AuditRecord negative_count = plain;
  negative_count.subject_count = -2;
  const std::set<std::string> hashes = {
      chain_hash(plain),       chain_hash(id_only),  chain_hash(count_only),    chain_hash(both),
      chain_hash(other_count), chain_hash(other_id), chain_hash(negative_count)};
  EXPECT_EQ(hashes.size(), 7U);
}

class AuditFixture : public ::testing::Test {
 protected:
  void start(Backend backend) {
    prepare(backend);
    if (!IsSkipped()) store_ = open();
  }

  /// A fresh SQLite file name or PostgreSQL schema, nothing created in it yet.
  void prepare(Backend backend) {
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
      const auto db = sqlite::open(path_, SQLITE_OPEN_READWRITE);
      sqlite::exec(db.get(), sql.c_str());
    } else {
      pqxx::connection conn(dsn_);
      pqxx::nontransaction(conn).exec(sql);
    }
  }

  /// A count query run behind the store's back.
  std::int64_t raw_count(const std::string& sql) const {
    if (backend_ == Backend::kSqlite) {
      const auto db = sqlite::open(path_, SQLITE_OPEN_READONLY);
      const auto s = sqlite::prepare(db.get(), sql.c_str());
      return sqlite3_step(s.get()) == SQLITE_ROW ? sqlite3_column_int64(s.get(), 0) : -1;
    }
    pqxx::connection conn(dsn_);
    return pqxx::nontransaction(conn).exec(sql)[0][0].as<std::int64_t>();
  }

  /// audit_log's column names in table order, read behind the store's back.
  std::vector<std::string> log_columns() const {
    std::vector<std::string> out;
    if (backend_ == Backend::kSqlite) {
      const auto db = sqlite::open(path_, SQLITE_OPEN_READONLY);
      const auto s = sqlite::prepare(db.get(), "SELECT name FROM pragma_table_info('audit_log')");
      while (sqlite3_step(s.get()) == SQLITE_ROW) {
        out.push_back(sqlite::column_text(s.get(), 0));
      }
    } else {
      pqxx::connection conn(dsn_);
      const pqxx::result rows = pqxx::nontransaction(conn).exec(
          "SELECT column_name FROM information_schema.columns WHERE table_schema ="
          " current_schema() AND table_name = 'audit_log' ORDER BY ordinal_position");
      for (const auto& row : rows) out.emplace_back(row[0].c_str());
    }
    return out;
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
  EXPECT_EQ(store_->append(make_records(1, 3)).appended, 3U);
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
  ASSERT_EQ(store_->append(make_records(1, 2)).appended, 2U);
  const std::string head = verify_chain(*store_).head_hash;
  EXPECT_EQ(store_->append(make_records(2, 2)).appended, 0U);
  EXPECT_EQ(store_->count(), 2);
  EXPECT_EQ(verify_chain(*store_).head_hash, head);
  // A batch mixing a redelivery, a new event and its own duplicate appends the new one once.
  EXPECT_EQ(store_->append({make_record("e1"), make_record("e3"), make_record("e3")}).appended, 1U);
  EXPECT_EQ(store_->count(), 3);
  EXPECT_TRUE(verify_chain(*store_).ok);
}

TEST_P(AuditStoreTest, DuplicatesAreCountedAsSuch) {
  store_->append(make_records(1, 2));
  const auto again = store_->append(make_records(1, 3));
  EXPECT_EQ(again.appended, 1U);
  EXPECT_EQ(again.duplicates, 2U);
  EXPECT_EQ(again.conflicts, 0U);
  EXPECT_EQ(store_->conflicts(), 0);
}

// A writer to the audit topic who reuses a real event's id to overwrite or hide it: the
// chain keeps the first event, the other is kept apart, and verify raises the alarm.
TEST_P(AuditStoreTest, RepeatedIdWithOtherContentIsAConflictThatVerifyReports) {
  store_->append(make_records(1, 2));
  AuditRecord forged = make_record("e2", {"s-z"});
  forged.partner_id = "partner-9";
  const auto result = store_->append({forged, make_record("e3")});
  EXPECT_EQ(result.appended, 1U);
  EXPECT_EQ(result.duplicates, 0U);
  EXPECT_EQ(result.conflicts, 1U);
  EXPECT_EQ(store_->conflicts(), 1);
  const auto records = all();
  ASSERT_EQ(records.size(), 3U);
  EXPECT_EQ(records[1].partner_id, "partner-1");  // the chain keeps the first
  EXPECT_TRUE(store_->by_subject("s-z", 0, 10).empty());
  const VerifyReport report = verify_chain(*open());
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.problem.find("1 event(s) arrived with an event id already in the chain"),
            std::string::npos)
      << report.problem;
  EXPECT_EQ(raw_count("SELECT count(*) FROM audit_conflict WHERE event_id = 'e2'"), 1);
}

/// Records from one sending process, numbered `from`..`to`.
std::vector<AuditRecord> sourced(const std::string& source, int from, int to) {
  std::vector<AuditRecord> out;
  for (int i = from; i <= to; ++i) {
    AuditRecord r = make_record(source + "-e" + std::to_string(i));
    r.source = source;
    r.source_seq = i;
    out.push_back(r);
  }
  return out;
}

TEST_P(AuditStoreTest, InterleavedSourcesWithoutGapsVerify) {
  // Two gateway replicas, their events interleaved on the topic, plus records from before
  // sequences existed.
  store_->append(make_records(1, 1));
  auto a = sourced("gateway-0-aa", 1, 3);
  auto b = sourced("gateway-1-bb", 1, 2);
  EXPECT_EQ(store_->append({a[0], b[0], a[1], b[1], a[2]}).appended, 5U);
  const auto records = all();
  ASSERT_EQ(records.size(), 6U);
  EXPECT_EQ(records[5].source, "gateway-0-aa");
  EXPECT_EQ(records[5].source_seq, 3);
  const VerifyReport report = verify_chain(*open());
  EXPECT_TRUE(report.ok) << report.problem;
}

TEST_P(AuditStoreTest, VerifyReportsAnEventLostBeforeTheWriter) {
  auto a = sourced("gateway-0-aa", 1, 5);
  store_->append({a[0], a[1], a[4]});  // events 3 and 4 never arrived
  const VerifyReport report = verify_chain(*store_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 3);
  EXPECT_EQ(report.problem,
            "record 3 (source gateway-0-aa): events 3 to 4 of this source never reached the "
            "chain: lost between the gateway and the audit writer (look for audit_event_lost "
            "in its log)");
}

TEST_P(AuditStoreTest, VerifyReportsASourceThatDoesNotStartAtOne) {
  store_->append(sourced("gateway-0-aa", 2, 3));
  const VerifyReport report = verify_chain(*store_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 1);
  EXPECT_NE(report.problem.find("event 1 of this source never reached"), std::string::npos)
      << report.problem;
}

TEST_P(AuditStoreTest, VerifyReportsReplayedSourceNumbers) {
  auto a = sourced("gateway-0-aa", 1, 2);
  AuditRecord replay = a[1];
  replay.event_id = "another-id";
  store_->append({a[0], a[1], replay});
  const VerifyReport report = verify_chain(*store_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 3);
  EXPECT_NE(report.problem.find("event 2 comes after event 2"), std::string::npos)
      << report.problem;
}

TEST_P(AuditStoreTest, SourceFieldsAreCoveredByTheChain) {
  store_->append(sourced("gateway-0-aa", 1, 2));
  raw("UPDATE audit_log SET source_seq = 7 WHERE seq = 2");
  const VerifyReport report = verify_chain(*store_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.problem, "record 2: contents altered (hash mismatch)");
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

TEST_P(AuditStoreTest, AccessLogReadsAreListedToo) {
  store_->append({make_record("e1", {"s-a"})});
  auto read = make_record("e2", {"s-a"});
  read.operation = "audit.access-log";
  store_->append({read});
  const auto listed = store_->by_subject("s-a", 0, 10);
  ASSERT_EQ(listed.size(), 2U);
  EXPECT_EQ(listed[0].event_id, "e2");
  EXPECT_EQ(listed[0].operation, "audit.access-log");
  EXPECT_EQ(listed[1].event_id, "e1");
}

TEST_P(AuditStoreTest, BatchFieldsRoundTripAndAreCoveredByTheChain) {
  // A job's submission (its count, no hashes), one chunk (its subjects), an ordinary request.
  EXPECT_EQ(store_
                ->append({batch_record("e1", {}, 3), batch_record("e2", {"s-a", "s-b", "s-c"}, 3),
                          make_record("e3", {"s-a"})})
                .appended,
            3U);
  // The citizen's access-log query lists the chunk like any other access.
  const auto listed = open()->by_subject("s-a", 0, 10);  // read back through a new store
  ASSERT_EQ(listed.size(), 2U);
  EXPECT_EQ(listed[0].event_id, "e3");
  EXPECT_EQ(listed[0].batch_id, "");
  EXPECT_EQ(listed[0].subject_count, 0);
  EXPECT_EQ(listed[1].event_id, "e2");
  EXPECT_EQ(listed[1].batch_id, "job-1");
  EXPECT_EQ(listed[1].subject_count, 3);
  EXPECT_EQ(listed[1].subject_hashes, (std::vector<std::string>{"s-a", "s-b", "s-c"}));

  const auto scanned = all();
  ASSERT_EQ(scanned.size(), 3U);
  EXPECT_EQ(scanned[0].batch_id, "job-1");
  EXPECT_EQ(scanned[0].subject_count, 3);
  EXPECT_TRUE(scanned[0].subject_hashes.empty());
  EXPECT_EQ(scanned[1].hash, listed[1].hash);
  for (const auto& r : scanned) EXPECT_EQ(r.hash, chain_hash(r)) << r.event_id;
  AuditRecord stripped = scanned[1];
  stripped.batch_id.clear();
  stripped.subject_count = 0;
  EXPECT_NE(chain_hash(stripped), scanned[1].hash);

  const VerifyReport report = verify_chain(*open());
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 3);
}

TEST_P(AuditStoreTest, WithholdingRoundTripsAndIsCoveredByTheChain) {
  AuditRecord withheld = make_record("e2", {"s-a"});
  withheld.withheld_until_ms = 1'800'000'000'000;
  withheld.withholding_ref = "VKS-2026/77";
  EXPECT_EQ(store_->append({make_record("e1", {"s-a"}), withheld}).appended, 2U);
  const auto listed = open()->by_subject("s-a", 0, 10);  // read back through a new store
  ASSERT_EQ(listed.size(), 2U);
  EXPECT_EQ(listed[0].withheld_until_ms, 1'800'000'000'000);
  EXPECT_EQ(listed[0].withholding_ref, "VKS-2026/77");
  EXPECT_EQ(listed[1].withheld_until_ms, 0);
  EXPECT_EQ(listed[0].hash, chain_hash(listed[0]));
  AuditRecord shortened = listed[0];
  shortened.withheld_until_ms = 1'700'000'000'000;  // "the investigation ended long ago"
  EXPECT_NE(chain_hash(shortened), listed[0].hash);
  EXPECT_TRUE(verify_chain(*open()).ok);
}

TEST_P(AuditStoreTest, NewTableHasTheBatchColumnsLast) {
  EXPECT_EQ(log_columns(), kExpectedLogColumns);
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
  EXPECT_EQ(second->append(make_records(3, 3)).appended, 1U);
  EXPECT_EQ(store_->append(make_records(4, 4)).appended, 1U);  // the first store re-reads the head
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

  /// Applies the tamper to record 2 of the stored chain and expects verify to name it.
  void expect_tamper_reported() {
    raw(std::string("UPDATE audit_log SET ") + std::get<1>(GetParam()).assignment +
        " WHERE seq = 2");
    const VerifyReport report = verify_chain(*store_);
    EXPECT_FALSE(report.ok);
    EXPECT_EQ(report.first_bad_seq, 2);
    EXPECT_EQ(report.problem.rfind("record 2: contents altered", 0), 0U) << report.problem;
  }
};

TEST_P(ColumnTamperTest, VerifyReportsTheAlteredRecord) {
  store_->append(make_records(1, 3));
  expect_tamper_reported();
}

// The same, on a chain whose record 2 is a bulk-job record (its hash has the v2 extension).
class BatchColumnTamperTest : public ColumnTamperTest {};

TEST_P(BatchColumnTamperTest, VerifyReportsTheAlteredBatchRecord) {
  store_->append({make_record("e1"), batch_record("e2", {"s-a", "s-b"}, 2), make_record("e3")});
  ASSERT_TRUE(verify_chain(*store_).ok);
  expect_tamper_reported();
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
            Tamper{"prev_hash", "prev_hash = 'forged'"}, Tamper{"hash", "hash = 'forged'"},
            // An ordinary request dressed up as part of a bulk job.
            Tamper{"batch_id_added", "batch_id = 'job-9'"},
            Tamper{"subject_count_added", "subject_count = 1"})),
    [](const auto& p) {
      return backend_name(std::get<0>(p.param)) + "_" + std::get<1>(p.param).column;
    });

INSTANTIATE_TEST_SUITE_P(
    Columns, BatchColumnTamperTest,
    ::testing::Combine(
        ::testing::Values(Backend::kSqlite, Backend::kPostgres),
        ::testing::Values(Tamper{"batch_id", "batch_id = 'job-2'"},
                          Tamper{"batch_id_removed", "batch_id = ''"},
                          Tamper{"subject_count", "subject_count = subject_count + 1"},
                          Tamper{"subject_count_removed", "subject_count = 0"},
                          // Back to what a v1 record with the same other fields would store.
                          Tamper{"batch_fields_removed", "batch_id = '', subject_count = 0"},
                          Tamper{"subject_hashes", "subject_hashes = '[\"s-a\"]'"})),
    [](const auto& p) {
      return backend_name(std::get<0>(p.param)) + "_" + std::get<1>(p.param).column;
    });

// The tables exactly as releases before batch_id/subject_count created them.
constexpr const char* kSqliteSchemaV1 =
    "CREATE TABLE IF NOT EXISTS audit_log ("
    " seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, time_unix_ms INTEGER NOT NULL,"
    " request_id TEXT NOT NULL, partner_id TEXT NOT NULL, operation TEXT NOT NULL,"
    " subject_hashes TEXT NOT NULL, purpose TEXT NOT NULL, on_behalf_of TEXT NOT NULL,"
    " procedure_code TEXT NOT NULL, fields_released TEXT NOT NULL, outcome TEXT NOT NULL,"
    " http_status INTEGER NOT NULL, latency_us INTEGER NOT NULL, prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL) STRICT;"
    "CREATE TABLE IF NOT EXISTS audit_subject ("
    " subject_hash TEXT NOT NULL, seq INTEGER NOT NULL,"
    " PRIMARY KEY (subject_hash, seq)) WITHOUT ROWID, STRICT;";
constexpr const char* kPostgresSchemaV1 =
    "CREATE TABLE IF NOT EXISTS audit_log ("
    " seq BIGINT PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, time_unix_ms BIGINT NOT NULL,"
    " request_id TEXT NOT NULL, partner_id TEXT NOT NULL, operation TEXT NOT NULL,"
    " subject_hashes TEXT NOT NULL, purpose TEXT NOT NULL, on_behalf_of TEXT NOT NULL,"
    " procedure_code TEXT NOT NULL, fields_released TEXT NOT NULL, outcome TEXT NOT NULL,"
    " http_status INTEGER NOT NULL, latency_us BIGINT NOT NULL, prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit_subject ("
    " subject_hash TEXT COLLATE \"C\" NOT NULL, seq BIGINT NOT NULL,"
    " PRIMARY KEY (subject_hash, seq));";

/// Storage as an earlier release left it; the store is opened by the test.
class AuditMigrationTest : public AuditFixture, public ::testing::WithParamInterface<Backend> {
 protected:
  void SetUp() override {
    prepare(GetParam());
    if (IsSkipped()) return;
    if (backend_ == Backend::kSqlite) {
      const auto db = sqlite::open(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
      sqlite::exec(db.get(), "PRAGMA journal_mode=WAL");
      sqlite::exec(db.get(), kSqliteSchemaV1);
    } else {
      raw(kPostgresSchemaV1);
    }
  }

  /// Appends `r` as the chain's next record the way an earlier release did: v1 columns only,
  /// hashed without batch fields (whose hash is pinned above).
  void append_v1(AuditRecord r) {
    r.seq = ++v1_seq_;
    r.prev_hash = v1_head_;
    r.hash = chain_hash(r);
    auto quoted = [](const std::string& v) { return "'" + v + "'"; };
    auto list = [&](const std::vector<std::string>& v) {
      std::string out = "'[";
      for (std::size_t i = 0; i < v.size(); ++i) out += (i > 0 ? ",\"" : "\"") + v[i] + "\"";
      return out + "]'";
    };
    raw("INSERT INTO audit_log (seq, event_id, time_unix_ms, request_id, partner_id, operation,"
        " subject_hashes, purpose, on_behalf_of, procedure_code, fields_released, outcome,"
        " http_status, latency_us, prev_hash, hash) VALUES (" +
        std::to_string(r.seq) + ", " + quoted(r.event_id) + ", " + std::to_string(r.time_unix_ms) +
        ", " + quoted(r.request_id) + ", " + quoted(r.partner_id) + ", " + quoted(r.operation) +
        ", " + list(r.subject_hashes) + ", " + quoted(r.purpose) + ", " + quoted(r.on_behalf_of) +
        ", " + quoted(r.procedure_code) + ", " + list(r.fields_released) + ", " +
        quoted(r.outcome) + ", " + std::to_string(r.http_status) + ", " +
        std::to_string(r.latency_us) + ", " + quoted(r.prev_hash) + ", " + quoted(r.hash) + ")");
    for (const auto& subject : r.subject_hashes) {
      raw("INSERT INTO audit_subject (subject_hash, seq) VALUES (" + quoted(subject) + ", " +
          std::to_string(r.seq) + ")");
    }
    v1_head_ = r.hash;
  }

  std::int64_t v1_seq_ = 0;
  std::string v1_head_;
};

INSTANTIATE_TEST_SUITE_P(Backends, AuditMigrationTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& p) { return backend_name(p.param); });

TEST_P(AuditMigrationTest, OpeningAnOldTableAddsTheBatchColumnsAndTheOldChainStillVerifies) {
  append_v1(make_record("e1", {"s-c"}));
  append_v1(make_record("e2", {"s-a", "s-b"}));
  const std::string old_head = v1_head_;
  const std::vector<std::string> v1_columns(kExpectedLogColumns.begin(),
                                            kExpectedLogColumns.end() - 7);
  ASSERT_EQ(log_columns(), v1_columns);

  store_ = open();
  EXPECT_EQ(log_columns(), kExpectedLogColumns);
  const auto migrated = all();
  ASSERT_EQ(migrated.size(), 2U);
  for (const auto& r : migrated) {
    EXPECT_EQ(r.batch_id, "");
    EXPECT_EQ(r.subject_count, 0);
  }
  const VerifyReport report = verify_chain(*store_, {2, old_head});
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 2);
  EXPECT_EQ(report.head_hash, old_head);
  EXPECT_EQ(store_->by_subject("s-b", 0, 10).size(), 1U);

  // An earlier release still appending during a rolling upgrade, then this one, with a job.
  append_v1(make_record("e3", {"s-c"}));
  EXPECT_EQ(store_->append({batch_record("e4", {"s-a"}, 1)}).appended, 1U);
  const auto reopened = open();  // an up-to-date table is left as it is
  EXPECT_EQ(log_columns(), kExpectedLogColumns);
  const VerifyReport after = verify_chain(*reopened, {2, old_head});
  EXPECT_TRUE(after.ok) << after.problem;
  EXPECT_EQ(after.records, 4);
  const auto listed = reopened->by_subject("s-a", 0, 10);
  ASSERT_EQ(listed.size(), 2U);
  EXPECT_EQ(listed[0].batch_id, "job-1");
  EXPECT_EQ(listed[0].subject_count, 1);
  EXPECT_EQ(listed[1].event_id, "e2");
}

TEST_P(AuditMigrationTest, TamperedBatchColumnsOfAMigratedRecordAreReported) {
  append_v1(make_record("e1"));
  append_v1(make_record("e2"));
  store_ = open();
  raw("UPDATE audit_log SET batch_id = 'job-9', subject_count = 40 WHERE seq = 1");
  const VerifyReport report = verify_chain(*store_);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 1);
  EXPECT_EQ(report.problem, "record 1: contents altered (hash mismatch)");
}

}  // namespace
}  // namespace lgsp::audit

namespace lgsp::audit {
namespace {

/// A fresh Ed25519 key pair as PEM texts: the writer's key and its public half.
std::pair<std::string, std::string> key_pair() {
  const auto base = std::filesystem::temp_directory_path() / unique_name();
  const std::string priv = base.string() + ".pem";
  const std::string pub = base.string() + ".pub.pem";
  util::write_ed25519_key_pair(priv, pub);
  const auto read = [](const std::string& f) {
    std::stringstream text;
    text << std::ifstream(f).rdbuf();
    std::filesystem::remove(f);
    return text.str();
  };
  return {read(priv), read(pub)};
}

/// Signs as the audit writer does (AuditWriter's constructor).
HeadSigner signer_of(std::shared_ptr<const util::Ed25519Signer> key) {
  return [key](std::int64_t seq, const std::string& hash) {
    SignedHead h{seq, hash, util::unix_ms_now(), key->key_id(), {}};
    h.signature = key->sign(signed_head_message(h));
    return h;
  };
}

// Item 4 of the trust issue: whoever can write the audit database can rewrite the chain
// (the hash format is public), so only the writer's signature over the head tells.
class SignedChainTest : public AuditStoreTest {
 protected:
  void SetUp() override {
    AuditStoreTest::SetUp();
    if (IsSkipped()) return;
    auto [priv, pub] = key_pair();
    signer_ = std::make_shared<const util::Ed25519Signer>(priv);
    verifier_ = std::make_unique<util::Ed25519Verifier>(pub);
    store_->sign_heads_with(signer_of(signer_));
  }

  /// Rewrites record `seq`'s partner and recomputes its hash and every later link, as an
  /// insider who knows the public format would.
  void rewrite_from(std::int64_t seq, const std::string& partner) {
    auto records = all();
    std::string prev = seq > 1 ? records.at(static_cast<std::size_t>(seq - 2)).hash : "";
    for (auto& r : records) {
      if (r.seq < seq) continue;
      if (r.seq == seq) r.partner_id = partner;
      r.prev_hash = prev;
      r.hash = chain_hash(r);
      prev = r.hash;
      raw("UPDATE audit_log SET partner_id = '" + r.partner_id + "', prev_hash = '" + r.prev_hash +
          "', hash = '" + r.hash + "' WHERE seq = " + std::to_string(r.seq));
    }
  }

  std::shared_ptr<const util::Ed25519Signer> signer_;
  std::unique_ptr<util::Ed25519Verifier> verifier_;
};

INSTANTIATE_TEST_SUITE_P(Backends, SignedChainTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& p) { return backend_name(p.param); });

TEST_P(SignedChainTest, EveryAppendSignsItsHead) {
  store_->append(make_records(1, 3));
  store_->append(make_records(4, 5));
  const auto head = store_->signed_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->seq, 5);
  EXPECT_EQ(head->hash, all().back().hash);
  EXPECT_EQ(head->key_id, signer_->key_id());
  const VerifyReport report = verify_chain(*store_, {}, verifier_.get());
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.records, 5);
}

// Fails on 72190d0: the rewritten chain verified, and nothing else could tell.
TEST_P(SignedChainTest, AChainRewrittenWithRecomputedHashesFailsOnlyAgainstTheSignature) {
  store_->append(make_records(1, 5));
  rewrite_from(3, "someone-else");
  EXPECT_TRUE(verify_chain(*store_).ok) << "self-consistent: the hole the signature closes";
  const VerifyReport report = verify_chain(*store_, {}, verifier_.get());
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 5);
  EXPECT_NE(report.problem.find("record 5 differs from the head the audit writer signed"),
            std::string::npos)
      << report.problem;
}

TEST_P(SignedChainTest, TheWriterDoesNotSignOnTopOfAChainChangedBehindIt) {
  store_->append(make_records(1, 3));
  rewrite_from(2, "someone-else");
  const auto done = store_->append(make_records(4, 4));
  EXPECT_EQ(done.appended, 1U) << "the event is kept";
  EXPECT_TRUE(done.left_unsigned) << "signing now would vouch for the rewrite";
  EXPECT_EQ(store_->signed_head()->seq, 3);
  const VerifyReport report = verify_chain(*store_, {}, verifier_.get());
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.problem.find("record 3 differs from the head the audit writer signed"),
            std::string::npos)
      << report.problem;
}

TEST_P(SignedChainTest, AnUnsignedTailOrAMissingForgedOrForeignSignatureIsReported) {
  store_->append(make_records(1, 3));
  // Records added behind the writer's back, correctly chained (old times: not racing verify).
  auto extra = all().back();
  extra.seq = 4;
  extra.event_id = "forged";
  extra.prev_hash = extra.hash;
  extra.hash = chain_hash(extra);
  raw("INSERT INTO audit_log (seq, event_id, time_unix_ms, request_id, partner_id, operation,"
      " subject_hashes, purpose, on_behalf_of, procedure_code, fields_released, outcome,"
      " http_status, latency_us, prev_hash, hash) SELECT 4, 'forged', time_unix_ms, request_id,"
      " partner_id, operation, subject_hashes, purpose, on_behalf_of, procedure_code,"
      " fields_released, outcome, http_status, latency_us, '" +
      extra.prev_hash + "', '" + extra.hash + "' FROM audit_log WHERE seq = 3");
  raw("INSERT INTO audit_subject (subject_hash, seq) VALUES ('s-a', 4)");
  ASSERT_TRUE(verify_chain(*store_).ok) << verify_chain(*store_).problem;
  VerifyReport report = verify_chain(*store_, {}, verifier_.get());
  EXPECT_NE(report.problem.find("1 record(s) after the signed head (record 3) are older than a "
                                "minute and unsigned"),
            std::string::npos)
      << report.problem;

  raw("DELETE FROM audit_log WHERE seq = 4");
  raw("DELETE FROM audit_subject WHERE seq = 4");
  ASSERT_TRUE(verify_chain(*store_, {}, verifier_.get()).ok);
  const auto [other_priv, other_pub] = key_pair();
  const util::Ed25519Verifier other(other_pub);
  report = verify_chain(*store_, {}, &other);
  EXPECT_NE(report.problem.find("the head is signed by key " + signer_->key_id()),
            std::string::npos)
      << report.problem;

  raw("UPDATE audit_signed_head SET signature = '" + std::string(128, 'a') + "'");
  report = verify_chain(*store_, {}, verifier_.get());
  EXPECT_NE(report.problem.find("signature of the signed head (record 3) is invalid"),
            std::string::npos)
      << report.problem;

  raw("DELETE FROM audit_signed_head");
  report = verify_chain(*store_, {}, verifier_.get());
  EXPECT_NE(report.problem.find("no signed head: 3 record(s)"), std::string::npos)
      << report.problem;
}

TEST_P(SignedChainTest, ARecentUnsignedTailIsAnAppendRacingVerify) {
  AuditRecord r = make_record("now");
  r.time_unix_ms = util::unix_ms_now();
  const auto unsigned_store = open();  // a store without the signer: its append is unsigned
  unsigned_store->append({make_record("old")});
  EXPECT_FALSE(verify_chain(*store_, {}, verifier_.get()).ok) << "an old unsigned record";
  raw("DELETE FROM audit_subject");
  raw("DELETE FROM audit_log");
  unsigned_store->append({r});
  EXPECT_TRUE(verify_chain(*store_, {}, verifier_.get()).ok)
      << verify_chain(*store_, {}, verifier_.get()).problem;
}

// The gateways read the access log through a read-only store (its role may be SELECT-only).
TEST_P(AuditStoreTest, AReadOnlyStoreReadsButCannotWrite) {
  store_->append(make_records(1, 2));
  const auto reader = backend_ == Backend::kSqlite
                          ? open_sqlite_audit_store(path_, Access::kReadOnly)
                          : open_postgres_audit_store(dsn_, Access::kReadOnly);
  EXPECT_EQ(reader->by_subject("s-a", 0, 10).size(), 2U);
  EXPECT_EQ(reader->count(), 2);
  EXPECT_TRUE(verify_chain(*reader).ok);
  EXPECT_THROW(reader->append(make_records(3, 3)), std::logic_error);
  EXPECT_EQ(store_->count(), 2);
}

// The gateway's PostgreSQL role can be SELECT-only (the chart gives it its own DSN): the
// read-only store runs no DDL and no write. Fails on 72190d0, whose gateway opened the
// store like the writer (CREATE TABLE ... on every start).
TEST_P(AuditStoreTest, TheGatewaysRoleMayBeSelectOnly) {
  if (backend_ != Backend::kPostgres) GTEST_SKIP() << "PostgreSQL roles";
  store_->append(make_records(1, 2));
  const std::string role = schema_ + "_reader";
  raw("CREATE ROLE " + role + " LOGIN");
  raw("GRANT USAGE ON SCHEMA " + schema_ + " TO " + role);
  raw("GRANT SELECT ON ALL TABLES IN SCHEMA " + schema_ + " TO " + role);
  const std::string dsn = dsn_ + " user=" + role;
  EXPECT_THROW(open_postgres_audit_store(dsn), std::exception) << "the writer's open runs DDL";
  {
    const auto reader = open_postgres_audit_store(dsn, Access::kReadOnly);
    EXPECT_EQ(reader->by_subject("s-a", 0, 10).size(), 2U);
    EXPECT_TRUE(verify_chain(*reader).ok);
    EXPECT_FALSE(reader->signed_head());
  }
  raw("DROP OWNED BY " + role);
  raw("DROP ROLE " + role);
}

}  // namespace
}  // namespace lgsp::audit
