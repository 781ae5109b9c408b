#include "registries/population/service.hpp"

#include <gtest/gtest.h>

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include <boost/json.hpp>

#include "registries/matching.hpp"
#include "registries/population/sqlite_store.hpp"
#include "seed/seeder.hpp"

namespace lgsp::registries::population {
namespace {

namespace v1 = bus::v1;

/// A real SQLite registry of 2,000 synthetic citizens in a temp dir, shared by the suite.
class PopulationServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("lgsp-pop-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    seed::seed_registries(seed::sqlite_targets({{"population", (dir_ / "population.db").string()}}),
                          2000, 7);
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }

  void SetUp() override {
    store_ = std::make_unique<SqlitePopulationStore>((dir_ / "population.db").string());
    service_ =
        std::make_unique<PopulationService>(*store_, [] { return std::int64_t{1700000000000}; });
    subject_ = store_->samples(1).at(0);
  }

  v1::Request verify_request() const {
    v1::Request r;
    r.set_request_id("r1");
    r.set_operation(v1::OPERATION_VERIFY);
    r.set_subject_key("citizen_id");
    r.set_subject(subject_.citizen_id);
    return r;
  }

  static inline std::filesystem::path dir_;
  std::unique_ptr<SqlitePopulationStore> store_;
  std::unique_ptr<PopulationService> service_;
  domain::CitizenRecord subject_;
};

TEST_F(PopulationServiceTest, VerifyMatchesWhenEveryClaimIsRight) {
  auto r = verify_request();
  (*r.mutable_claims())["full_name"] = subject_.full_name;
  (*r.mutable_claims())["date_of_birth"] = subject_.date_of_birth;
  (*r.mutable_claims())["gender"] = subject_.gender;
  const auto reply = service_->handle(r);
  EXPECT_EQ(reply.status(), v1::STATUS_OK);
  EXPECT_TRUE(reply.verify().subject_found());
  EXPECT_TRUE(reply.verify().match());
  EXPECT_EQ(reply.verify().fields_size(), 3);
  EXPECT_EQ(reply.request_id(), "r1");
  EXPECT_EQ(reply.source().registry(), "population");
  EXPECT_EQ(reply.source().as_of_unix_ms(), 1700000000000);
}

TEST_F(PopulationServiceTest, VerifyReturnsMismatchWhenBirthDateDiffers) {
  auto r = verify_request();
  (*r.mutable_claims())["full_name"] = subject_.full_name;
  (*r.mutable_claims())["date_of_birth"] = "1800-01-01";
  const auto reply = service_->handle(r);
  EXPECT_FALSE(reply.verify().match());
  ASSERT_EQ(reply.verify().fields_size(), 2);
  EXPECT_EQ(reply.verify().fields(0).grade(), v1::GRADE_EXACT);
  EXPECT_EQ(reply.verify().fields(1).field(), "date_of_birth");
  EXPECT_EQ(reply.verify().fields(1).grade(), v1::GRADE_MISMATCH);
}

TEST_F(PopulationServiceTest, VerifyNeverCarriesRecordValues) {
  auto r = verify_request();
  (*r.mutable_claims())["gender"] = subject_.gender == "male" ? "female" : "male";
  const auto reply = service_->handle(r);
  EXPECT_TRUE(reply.answer_json().empty());
  EXPECT_EQ(reply.SerializeAsString().find(subject_.full_name), std::string::npos);
}

TEST_F(PopulationServiceTest, UnknownCitizenIsNotFoundForVerify) {
  auto r = verify_request();
  r.set_subject_key("citizen_id");
  r.set_subject("096399999999");
  (*r.mutable_claims())["gender"] = "male";
  const auto reply = service_->handle(r);
  EXPECT_EQ(reply.status(), v1::STATUS_OK);
  EXPECT_FALSE(reply.verify().subject_found());
  EXPECT_FALSE(reply.verify().match());
}

TEST_F(PopulationServiceTest, LookupReleasesOnlyRequestedFields) {
  v1::Request r;
  r.set_operation(v1::OPERATION_LOOKUP);
  r.set_subject_key("citizen_id");
  r.set_subject(subject_.citizen_id);
  r.add_fields("full_name");
  r.add_fields("permanent_address");
  const auto reply = service_->handle(r);
  ASSERT_EQ(reply.status(), v1::STATUS_OK);
  const auto record = boost::json::parse(reply.answer_json()).at("record").as_object();
  EXPECT_EQ(record.size(), 2U);
  EXPECT_EQ(record.at("full_name").as_string(), subject_.full_name);
  EXPECT_EQ(record.at("permanent_address").at("province").as_string(), subject_.province);
}

TEST_F(PopulationServiceTest, LookupOfUnknownCitizenIsNotFound) {
  v1::Request r;
  r.set_operation(v1::OPERATION_LOOKUP);
  r.set_subject_key("citizen_id");
  r.set_subject("096399999999");
  r.add_fields("full_name");
  EXPECT_EQ(service_->handle(r).status(), v1::STATUS_NOT_FOUND);
}

/// Counts the calls to a store, so a test can tell how many queries a chunk cost.
class CountingStore final : public PopulationStore {
 public:
  explicit CountingStore(PopulationStore& inner) : inner_(inner) {}
  StoreResult<std::optional<domain::CitizenRecord>> find_citizen(std::string_view id) override {
    ++single;
    return inner_.find_citizen(id);
  }
  StoreResult<std::optional<domain::CitizenRecord>> find_by_legacy_id(
      std::string_view id) override {
    ++legacy;
    return inner_.find_by_legacy_id(id);
  }
  StoreResult<std::vector<domain::CitizenRecord>> find_citizens(
      const std::vector<std::string>& ids) override {
    ++bulk;
    return inner_.find_citizens(ids);
  }
  std::vector<domain::CitizenRecord> samples(std::int64_t n) override { return inner_.samples(n); }
  int single = 0;
  int legacy = 0;
  int bulk = 0;

 private:
  PopulationStore& inner_;
};

/// A store whose database is gone: every query fails.
class FailingStore final : public PopulationStore {
 public:
  static boost::system::error_code io_error() { return {SQLITE_IOERR, sqlite::sqlite_category()}; }
  StoreResult<std::optional<domain::CitizenRecord>> find_citizen(std::string_view) override {
    return io_error();
  }
  StoreResult<std::optional<domain::CitizenRecord>> find_by_legacy_id(std::string_view) override {
    return io_error();
  }
  StoreResult<std::vector<domain::CitizenRecord>> find_citizens(
      const std::vector<std::string>&) override {
    return io_error();
  }
  std::vector<domain::CitizenRecord> samples(std::int64_t) override { return {}; }
};

class PopulationBatchTest : public PopulationServiceTest {
 protected:
  void SetUp() override {
    PopulationServiceTest::SetUp();
    const auto people = store_->samples(200);
    other_ = people.at(1);
    // Three different people: the subject (people[0]), another, one with a legacy ID.
    const auto it = std::find_if(people.begin() + 2, people.end(),
                                 [](const auto& p) { return !p.legacy_id_number.empty(); });
    ASSERT_NE(it, people.end()) << "the seeded registry has nobody with a legacy ID";
    legacy_ = *it;
  }

  v1::Request& add(v1::Request& chunk, v1::Operation op, const std::string& citizen_id) const {
    v1::Request& item = *chunk.add_batch();
    item.set_request_id(std::to_string(chunk.batch_size()));
    item.set_registry("population");
    item.set_operation(op);
    item.set_partner_id("ministry");
    if (!citizen_id.empty()) {
      item.set_subject_key("citizen_id");
      item.set_subject(citizen_id);
    }
    return item;
  }

  /// Every kind of item a chunk may hold, in an order that mixes them.
  v1::Request mixed_chunk() const {
    v1::Request chunk;
    chunk.set_request_id("job-1-1");
    chunk.set_registry("population");
    chunk.set_operation(v1::OPERATION_VERIFY);
    auto& match = add(chunk, v1::OPERATION_VERIFY, subject_.citizen_id);
    (*match.mutable_claims())["full_name"] = subject_.full_name;
    (*match.mutable_claims())["date_of_birth"] = subject_.date_of_birth;
    (*match.mutable_claims())["gender"] = subject_.gender;
    auto& mismatch = add(chunk, v1::OPERATION_VERIFY, other_.citizen_id);
    (*mismatch.mutable_claims())["full_name"] = "Someone Else Entirely";
    (*mismatch.mutable_claims())["date_of_birth"] = other_.date_of_birth;
    (*add(chunk, v1::OPERATION_VERIFY, "096399999999").mutable_claims())["gender"] = "male";
    auto& by_legacy = add(chunk, v1::OPERATION_VERIFY, "");
    by_legacy.set_subject_key("legacy_id_number");
    by_legacy.set_subject(legacy_.legacy_id_number);
    (*by_legacy.mutable_claims())["full_name"] = legacy_.full_name;
    auto& lookup = add(chunk, v1::OPERATION_LOOKUP, subject_.citizen_id);
    lookup.add_fields("full_name");
    lookup.add_fields("permanent_address");
    add(chunk, v1::OPERATION_LOOKUP, "096399999998").add_fields("full_name");
    // The same subject again, graded more leniently.
    auto& again = add(chunk, v1::OPERATION_VERIFY, subject_.citizen_id);
    (*again.mutable_claims())["date_of_birth"] = subject_.date_of_birth.substr(0, 4);
    again.set_required_grade(v1::GRADE_PARTIAL);
    add(chunk, v1::OPERATION_UNSPECIFIED, subject_.citizen_id);
    return chunk;
  }

  domain::CitizenRecord other_;
  domain::CitizenRecord legacy_;
};

TEST_F(PopulationBatchTest, BatchAnswersEveryItemAsHandleWouldInOrder) {
  const auto chunk = mixed_chunk();
  v1::Reply out;
  service_->handle_batch(chunk, out);
  EXPECT_EQ(out.request_id(), "job-1-1");
  EXPECT_EQ(out.status(), v1::STATUS_OK);
  ASSERT_EQ(out.batch_size(), chunk.batch_size());
  for (int i = 0; i < chunk.batch_size(); ++i) {
    const auto single = service_->handle(chunk.batch(i));
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(out.batch(i), single))
        << "item " << i << "\nbatch:  " << out.batch(i).ShortDebugString()
        << "\nsingle: " << single.ShortDebugString();
    EXPECT_EQ(out.batch(i).request_id(), std::to_string(i + 1));
  }
  EXPECT_TRUE(out.batch(0).verify().match());
  EXPECT_TRUE(out.batch(1).verify().subject_found());
  EXPECT_FALSE(out.batch(1).verify().match());
  EXPECT_FALSE(out.batch(2).verify().subject_found());
  EXPECT_TRUE(out.batch(3).verify().match());
  ASSERT_EQ(out.batch(3).subject_citizen_ids_size(), 1);
  EXPECT_EQ(out.batch(3).subject_citizen_ids(0), legacy_.citizen_id);
  EXPECT_EQ(boost::json::parse(out.batch(4).answer_json()).at("record").at("full_name").as_string(),
            subject_.full_name);
  EXPECT_EQ(out.batch(5).status(), v1::STATUS_NOT_FOUND);
  EXPECT_TRUE(out.batch(6).verify().match());
  EXPECT_EQ(out.batch(7).status(), v1::STATUS_BAD_REQUEST);
}

TEST_F(PopulationBatchTest, BatchReadsAllCitizenIdsInOneStoreQuery) {
  CountingStore counting(*store_);
  PopulationService service(counting, [] { return std::int64_t{1700000000000}; });
  v1::Reply out;
  service.handle_batch(mixed_chunk(), out);
  EXPECT_EQ(counting.bulk, 1);
  EXPECT_EQ(counting.single, 0);
  EXPECT_EQ(counting.legacy, 1);  // the one item named by its old identity card
}

TEST_F(PopulationBatchTest, BatchFailsEveryItemWhenTheStoreCannotAnswer) {
  FailingStore failing;
  PopulationService service(failing, [] { return std::int64_t{1700000000000}; });
  const auto chunk = mixed_chunk();
  v1::Reply out;
  service.handle_batch(chunk, out);
  EXPECT_EQ(out.status(), v1::STATUS_OK);
  ASSERT_EQ(out.batch_size(), chunk.batch_size());
  for (int i = 0; i < chunk.batch_size(); ++i) {
    EXPECT_EQ(out.batch(i).status(), v1::STATUS_BACKEND_ERROR) << "item " << i;
    EXPECT_EQ(out.batch(i).request_id(), chunk.batch(i).request_id());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(out.batch(i),
                                                                   service.handle(chunk.batch(i))))
        << "item " << i;
  }
}

TEST_F(PopulationBatchTest, EmptyChunkIsAnsweredWithNoItems) {
  v1::Request chunk;
  chunk.set_request_id("job-1-2");
  v1::Reply out;
  service_->handle_batch(chunk, out);
  EXPECT_EQ(out.request_id(), "job-1-2");
  EXPECT_EQ(out.status(), v1::STATUS_OK);
  EXPECT_EQ(out.batch_size(), 0);
}

TEST_F(PopulationBatchTest, SqliteFindCitizensReturnsEachKnownIdOnce) {
  const std::vector<std::string> ids{subject_.citizen_id, "096399999999",     other_.citizen_id,
                                     subject_.citizen_id, legacy_.citizen_id, "000000000000",
                                     other_.citizen_id};
  const auto found = store_->find_citizens(ids);
  ASSERT_TRUE(found) << found.error().message();
  std::multiset<std::string> got;
  for (const auto& r : *found) got.insert(r.citizen_id);
  EXPECT_EQ(got, (std::multiset<std::string>{subject_.citizen_id, other_.citizen_id,
                                             legacy_.citizen_id}));
  for (const auto& r : *found) {
    const auto single = store_->find_citizen(r.citizen_id);
    ASSERT_TRUE(single && single->has_value());
    EXPECT_EQ((*single)->full_name, r.full_name);
    EXPECT_EQ((*single)->legacy_id_number, r.legacy_id_number);
  }
  const auto none = store_->find_citizens({});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(PopulationBatchTest, SqliteFindCitizensCoversListsLongerThanOneStatement) {
  // Every seeded citizen, twice, among unknown IDs: more than the largest prepared list.
  const auto everyone = store_->samples(2000);
  std::vector<std::string> ids;
  for (int i = 0; i < 3000; ++i) ids.push_back("0990" + std::to_string(10000000 + i));
  for (const auto& r : everyone) ids.push_back(r.citizen_id);
  for (const auto& r : everyone) ids.push_back(r.citizen_id);
  ASSERT_GT(ids.size(), SqlitePopulationStore::kIdListSizes.back());
  const auto found = store_->find_citizens(ids);
  ASSERT_TRUE(found) << found.error().message();
  std::set<std::string> distinct;
  for (const auto& r : *found) distinct.insert(r.citizen_id);
  EXPECT_EQ(found->size(), everyone.size());
  EXPECT_EQ(distinct.size(), everyone.size());
}

TEST(Matching, NameGradesIgnoreFormButNotDiacritics) {
  EXPECT_EQ(grade_name("NGUYỄN  văn an", "Nguyễn Văn An"), v1::GRADE_EXACT);
  EXPECT_EQ(grade_name("Nguye\xCC\x82\xCC\x83n Va\xCC\x86n An", "Nguyễn Văn An"), v1::GRADE_EXACT);
  EXPECT_EQ(grade_name("Nguyen Van An", "Nguyễn Văn An"), v1::GRADE_MISMATCH);
  EXPECT_EQ(grade_name("", "Nguyễn Văn An"), v1::GRADE_MISMATCH);
}

// The grader applies docs/names.md: accepted orthographic variants are EXACT under every
// policy, and a diacritic-insensitive partner gets PARTIAL only where one side lost its
// marks, never where both carry different ones.
TEST(Matching, NameGradesFollowRegistrarsVariants) {
  constexpr auto kLoose = v1::NAME_MATCHING_DIACRITIC_INSENSITIVE;
  EXPECT_EQ(grade_name("Nguyễn Thị Hòa", "Nguyễn Thị Hoà"), v1::GRADE_EXACT);
  EXPECT_EQ(grade_name("Trần Văn Thủy", "Trần Văn Thuỷ", kLoose), v1::GRADE_EXACT);
  EXPECT_EQ(grade_name("\xC3\x90\xE1\xBA\xB7ng V\xC4\x83n An", "Đặng Văn An"), v1::GRADE_EXACT);
  EXPECT_EQ(grade_name("Nguyen Thi Hoa", "Nguyễn Thị Hòa", kLoose), v1::GRADE_PARTIAL);
  EXPECT_EQ(grade_name("Doãn Văn An", "Đoàn Văn An", kLoose), v1::GRADE_MISMATCH);
  EXPECT_EQ(grade_name("Nguyễn Thị Vi", "Nguyễn Thị Vy", kLoose), v1::GRADE_MISMATCH);
  EXPECT_EQ(grade_name("Nguyễn An", "Nguyễn Văn An", kLoose), v1::GRADE_MISMATCH);
}

TEST(Matching, MeetsComparesStrength) {
  EXPECT_TRUE(meets(v1::GRADE_EXACT, v1::GRADE_EXACT));
  EXPECT_FALSE(meets(v1::GRADE_PARTIAL, v1::GRADE_EXACT));
  EXPECT_TRUE(meets(v1::GRADE_PARTIAL, v1::GRADE_PARTIAL));
  EXPECT_FALSE(meets(v1::GRADE_MISMATCH, v1::GRADE_PARTIAL));
}

TEST(SqliteStore, MissingFileSaysHowToCreateIt) {
  try {
    SqlitePopulationStore s("/nonexistent/population.db");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("lgsp seed"), std::string::npos);
  }
}

}  // namespace
}  // namespace lgsp::registries::population
