#include "connectors/population/population_service.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "connectors/backends/sqlite_stores.hpp"
#include "connectors/population/matching.hpp"
#include "seed/seeder.hpp"

namespace lgsp::connectors::population {
namespace {

namespace v1 = bus::v1;

/// A real SQLite registry of 2,000 synthetic citizens in a temp dir, shared by the suite.
class PopulationServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("lgsp-pop-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    seed::seed_registries(seed::sqlite_targets((dir_ / "population.db").string()), 2000, 7);
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
    r.set_citizen_id(subject_.citizen_id);
    return r;
  }

  static inline std::filesystem::path dir_;
  std::unique_ptr<SqlitePopulationStore> store_;
  std::unique_ptr<PopulationService> service_;
  domain::CitizenRecord subject_;
};

TEST_F(PopulationServiceTest, VerifyMatchesWhenEveryClaimIsRight) {
  auto r = verify_request();
  r.mutable_claims()->set_full_name(subject_.full_name);
  r.mutable_claims()->set_date_of_birth(subject_.date_of_birth);
  r.mutable_claims()->set_gender(subject_.gender);
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
  r.mutable_claims()->set_full_name(subject_.full_name);
  r.mutable_claims()->set_date_of_birth("1800-01-01");
  const auto reply = service_->handle(r);
  EXPECT_FALSE(reply.verify().match());
  ASSERT_EQ(reply.verify().fields_size(), 2);
  EXPECT_EQ(reply.verify().fields(0).grade(), v1::GRADE_EXACT);
  EXPECT_EQ(reply.verify().fields(1).field(), "date_of_birth");
  EXPECT_EQ(reply.verify().fields(1).grade(), v1::GRADE_MISMATCH);
}

TEST_F(PopulationServiceTest, VerifyNeverCarriesRecordValues) {
  auto r = verify_request();
  r.mutable_claims()->set_gender(subject_.gender == "male" ? "female" : "male");
  const auto reply = service_->handle(r);
  EXPECT_FALSE(reply.has_citizen());
  EXPECT_EQ(reply.SerializeAsString().find(subject_.full_name), std::string::npos);
}

TEST_F(PopulationServiceTest, UnknownCitizenIsNotFoundForVerify) {
  auto r = verify_request();
  r.set_citizen_id("096399999999");
  r.mutable_claims()->set_gender("male");
  const auto reply = service_->handle(r);
  EXPECT_EQ(reply.status(), v1::STATUS_OK);
  EXPECT_FALSE(reply.verify().subject_found());
  EXPECT_FALSE(reply.verify().match());
}

TEST_F(PopulationServiceTest, LookupReleasesOnlyRequestedFields) {
  v1::Request r;
  r.set_operation(v1::OPERATION_LOOKUP);
  r.set_citizen_id(subject_.citizen_id);
  r.add_fields("full_name");
  r.add_fields("permanent_address");
  const auto reply = service_->handle(r);
  ASSERT_EQ(reply.status(), v1::STATUS_OK);
  ASSERT_TRUE(reply.has_citizen());
  EXPECT_EQ(reply.citizen().full_name(), subject_.full_name);
  EXPECT_EQ(reply.citizen().permanent_address().province(), subject_.province);
  EXPECT_FALSE(reply.citizen().has_date_of_birth());
  EXPECT_FALSE(reply.citizen().has_gender());
}

TEST_F(PopulationServiceTest, LookupOfUnknownCitizenIsNotFound) {
  v1::Request r;
  r.set_operation(v1::OPERATION_LOOKUP);
  r.set_citizen_id("096399999999");
  r.add_fields("full_name");
  EXPECT_EQ(service_->handle(r).status(), v1::STATUS_NOT_FOUND);
}

TEST(Matching, NameGradesIgnoreFormButNotDiacritics) {
  EXPECT_EQ(grade_name("NGUYỄN  văn an", "Nguyễn Văn An"), v1::GRADE_EXACT);
  EXPECT_EQ(grade_name("Nguye\xCC\x82\xCC\x83n Va\xCC\x86n An", "Nguyễn Văn An"), v1::GRADE_EXACT);
  EXPECT_EQ(grade_name("Nguyen Van An", "Nguyễn Văn An"), v1::GRADE_MISMATCH);
  EXPECT_EQ(grade_name("", "Nguyễn Văn An"), v1::GRADE_MISMATCH);
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
}  // namespace lgsp::connectors::population
