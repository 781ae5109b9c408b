// Consents: the rules a presented consent is judged by (whose, for what, until when, what
// data), and the store on both backends (SQLite here, PostgreSQL when the test server runs):
// a revocation is the citizen's alone, holds at once, and keeps its first time.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <set>

#include "consents/rules.hpp"
#include "consents/store.hpp"
#include "tests/support/pg_schema.hpp"
#include "tests/support/stack.hpp"

namespace lgsp::consents {
namespace {

constexpr std::int64_t kNow = 1'800'000'000'000;
constexpr std::int64_t kDay = 86'400'000;

Consent bank_consent() {
  return {"cs-0123456789abcdef0123456789abcdef",
          std::string(64, 'a'),
          "bank",
          "credit-scoring",
          {"population.full_name", "population.date_of_birth", "insurance"},
          kNow - kDay,
          kNow + 30 * kDay,
          0,
          "citizen-app"};
}

TEST(ConsentRules, AConsentCoversOnlyItsPartnerCitizenPurposeAndTime) {
  const Consent c = bank_consent();
  const std::string me(64, 'a');
  EXPECT_EQ(standing(c, "bank", me, "credit-scoring", kNow), Standing::kValid);
  EXPECT_EQ(standing(std::nullopt, "bank", me, "credit-scoring", kNow), Standing::kUnknown);
  EXPECT_EQ(standing(c, "telecom", me, "credit-scoring", kNow), Standing::kOtherPartner);
  EXPECT_EQ(standing(c, "bank", std::string(64, 'b'), "credit-scoring", kNow),
            Standing::kOtherCitizen);
  EXPECT_EQ(standing(c, "bank", me, "marketing", kNow), Standing::kOtherPurpose);
  EXPECT_EQ(standing(c, "bank", me, "credit-scoring", kNow + 30 * kDay), Standing::kExpired);
  Consent revoked = c;
  revoked.revoked_ms = kNow - 1;
  EXPECT_EQ(standing(revoked, "bank", me, "credit-scoring", kNow), Standing::kRevoked);
  // Another partner's consent says nothing more, whatever else is wrong with it.
  EXPECT_EQ(standing(revoked, "telecom", std::string(64, 'b'), "x", kNow), Standing::kOtherPartner);
  // One wording for an unknown id and another partner's: nothing to tell them apart by.
  EXPECT_EQ(explain(Standing::kUnknown), explain(Standing::kOtherPartner));
  EXPECT_NE(explain(Standing::kRevoked), explain(Standing::kExpired));
}

TEST(ConsentRules, ScopeIsAWholeRegistryOrNamedFields) {
  const Consent c = bank_consent();
  const auto population = scope_of(c.scope, "population");
  EXPECT_TRUE(population.covered);
  EXPECT_FALSE(population.whole);
  EXPECT_TRUE(population.allows("full_name"));
  EXPECT_FALSE(population.allows("permanent_address"));
  const auto insurance = scope_of(c.scope, "insurance");
  EXPECT_TRUE(insurance.covered);
  EXPECT_TRUE(insurance.allows("status"));
  EXPECT_FALSE(scope_of(c.scope, "vehicle").covered);
  // A prefix of a registry's name is not that registry.
  EXPECT_FALSE(scope_of({"populationx"}, "population").covered);
  EXPECT_FALSE(scope_of({"population."}, "population").covered);
}

TEST(ConsentRules, AGrantedScopeNamesKnownRegistriesAndFieldsOnce) {
  EXPECT_TRUE(scope_problems({"population", "insurance.status"}).empty());
  EXPECT_EQ(scope_problems({}).size(), 1U);
  EXPECT_EQ(scope_problems({"bank-accounts"}).size(), 1U);
  EXPECT_EQ(scope_problems({"population.salary"}).size(), 1U);
  EXPECT_EQ(scope_problems({"population", "population"}).size(), 1U);
}

TEST(ConsentRules, IdsAreRandomAndCheckedForForm) {
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    const auto id = new_consent_id();
    EXPECT_TRUE(well_formed_id(id)) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 100U);
  EXPECT_FALSE(well_formed_id("cs-0123456789ABCDEF0123456789abcdef"));
  EXPECT_FALSE(well_formed_id("cs-0123"));
  EXPECT_FALSE(well_formed_id("xx-0123456789abcdef0123456789abcdef"));
}

enum class Backend { kSqlite, kPostgres };

class ConsentStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    config::RegistryConfig cfg;
    if (GetParam() == Backend::kPostgres) {
      if (!testing::postgres_available()) GTEST_SKIP() << "LGSP_TEST_PG_DSN not set";
      schema_ = std::make_unique<testing::TestSchema>("lgsp_consents");
      cfg.backend = "postgres";
      cfg.postgres_dsn = schema_->dsn();
    } else {
      path_ = std::filesystem::temp_directory_path() /
              ("lgsp-consents-" + std::to_string(::getpid()) + ".db");
      std::filesystem::remove(path_);
      cfg.sqlite_path = path_.string();
    }
    cfg_ = cfg;
    store_ = open_consent_store(cfg);
  }
  void TearDown() override {
    store_.reset();
    if (!path_.empty()) {
      for (const char* suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(path_.string() + suffix);
    }
  }
  std::filesystem::path path_;
  std::unique_ptr<testing::TestSchema> schema_;
  config::RegistryConfig cfg_;
  std::unique_ptr<ConsentStore> store_;
};

TEST_P(ConsentStoreTest, AConsentIsKeptAndOnlyItsCitizenRevokesIt) {
  const Consent c = bank_consent();
  store_->add(c);
  const auto found = store_->find(c.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->subject_hash, c.subject_hash);
  EXPECT_EQ(found->partner_id, "bank");
  EXPECT_EQ(found->purpose, "credit-scoring");
  EXPECT_EQ(found->scope, c.scope);
  EXPECT_EQ(found->expires_ms, c.expires_ms);
  EXPECT_EQ(found->revoked_ms, 0);
  EXPECT_EQ(found->recorded_by, "citizen-app");
  EXPECT_FALSE(store_->find("cs-ffffffffffffffffffffffffffffffff"));

  // Another citizen cannot revoke it, and learns nothing about it.
  EXPECT_FALSE(store_->revoke(c.id, std::string(64, 'b'), kNow));
  EXPECT_EQ(store_->find(c.id)->revoked_ms, 0);
  const auto revoked = store_->revoke(c.id, c.subject_hash, kNow);
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->revoked_ms, kNow);
  // Revoking again keeps the first time.
  EXPECT_EQ(store_->revoke(c.id, c.subject_hash, kNow + 5)->revoked_ms, kNow);

  // Reopened: it is all still there.
  store_ = open_consent_store(cfg_);
  EXPECT_EQ(store_->find(c.id)->revoked_ms, kNow);
}

TEST_P(ConsentStoreTest, ACitizensConsentsAreListedNewestFirst) {
  Consent a = bank_consent();
  Consent b = bank_consent();
  b.id = "cs-1123456789abcdef0123456789abcdef";
  b.granted_ms = a.granted_ms + 10;
  Consent other = bank_consent();
  other.id = "cs-2123456789abcdef0123456789abcdef";
  other.subject_hash = std::string(64, 'c');
  for (const auto& c : {a, b, other}) store_->add(c);
  const auto mine = store_->by_subject(a.subject_hash, 10);
  ASSERT_EQ(mine.size(), 2U);
  EXPECT_EQ(mine[0].id, b.id);
  EXPECT_EQ(mine[1].id, a.id);
  EXPECT_EQ(store_->by_subject(a.subject_hash, 1).size(), 1U);
  EXPECT_TRUE(store_->by_subject(std::string(64, 'd'), 10).empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, ConsentStoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& backend) {
                           return backend.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

}  // namespace
}  // namespace lgsp::consents
