#include "gateway/auth.hpp"

#include <gtest/gtest.h>

#include "domain/hashing.hpp"

namespace lgsp::gateway {
namespace {

ApiKeyAuthenticator make() {
  config::PartnerConfig a;
  a.id = "ministry";
  a.api_key_sha256 = {domain::sha256_hex("key-one"), domain::sha256_hex("key-rotated")};
  a.operations = {"population.lookup"};
  config::PartnerConfig b;
  b.id = "telecom";
  b.api_key_sha256 = {domain::sha256_hex("key-two")};
  return ApiKeyAuthenticator({a, b});
}

TEST(ApiKeyAuth, ValidKeyMapsToItsPartner) {
  const auto auth = make();
  const auto r = auth.authenticate("Bearer key-two");
  ASSERT_NE(r.partner, nullptr);
  EXPECT_EQ(r.partner->id, "telecom");
}

TEST(ApiKeyAuth, EitherOfTwoRotatedKeysWorks) {
  const auto auth = make();
  EXPECT_EQ(auth.authenticate("Bearer key-one").partner->id, "ministry");
  EXPECT_EQ(auth.authenticate("bearer key-rotated").partner->id, "ministry");
}

TEST(ApiKeyAuth, FailuresAreDistinguished) {
  const auto auth = make();
  EXPECT_EQ(auth.authenticate("").failure, AuthFailure::kMissing);
  EXPECT_EQ(auth.authenticate("Basic dXNlcjpwdw==").failure, AuthFailure::kMalformed);
  EXPECT_EQ(auth.authenticate("Bearer ").failure, AuthFailure::kMalformed);
  EXPECT_EQ(auth.authenticate("Bearer key-three").failure, AuthFailure::kInvalid);
  EXPECT_EQ(auth.authenticate("Bearer key-three").partner, nullptr);
}

TEST(Partner, OperationsAndFieldsAreScoped) {
  const auto auth = make();
  const Partner* p = auth.authenticate("Bearer key-one").partner;
  EXPECT_TRUE(p->may("population", "lookup"));
  EXPECT_FALSE(p->may("population", "verify"));
  EXPECT_TRUE(p->fields_of("population").empty());
}

}  // namespace
}  // namespace lgsp::gateway
