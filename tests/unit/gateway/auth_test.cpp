#include "gateway/auth.hpp"

#include <gtest/gtest.h>

#include "util/hashing.hpp"

namespace lgsp::gateway {
namespace {

const auto kNow = std::chrono::system_clock::now();

PartnerDirectory make() {
  config::PartnerConfig a;
  a.id = "ministry";
  a.api_key_sha256 = {util::sha256_hex("key-one"), util::sha256_hex("key-rotated")};
  a.operations = {"population.lookup"};
  a.client_cert_sha256 = {std::string(64, 'a')};
  config::PartnerConfig b;
  b.id = "telecom";
  b.api_key_sha256 = {util::sha256_hex("key-two")};
  b.client_cert_subjects = {"CN=telecom-gw,O=Telecom,C=VN"};
  b.purposes = {"subscriber-registration"};
  return PartnerDirectory({a, b}, config::AuthConfig{});
}

PeerIdentity cert(std::string sha256, std::string subject, bool verified = true) {
  PeerIdentity p;
  p.tls = true;
  p.cert_presented = true;
  p.cert_verified = verified;
  p.cert_sha256 = std::move(sha256);
  p.cert_subject = std::move(subject);
  return p;
}

TEST(PartnerDirectory, ValidKeyMapsToItsPartner) {
  const auto auth = make();
  const auto r = auth.authenticate("Bearer key-two", {}, kNow);
  ASSERT_NE(r.partner, nullptr);
  EXPECT_EQ(r.partner->id, "telecom");
  EXPECT_EQ(r.method, "api_key");
}

TEST(PartnerDirectory, EitherOfTwoRotatedKeysWorks) {
  const auto auth = make();
  EXPECT_EQ(auth.authenticate("Bearer key-one", {}, kNow).partner->id, "ministry");
  EXPECT_EQ(auth.authenticate("bearer key-rotated", {}, kNow).partner->id, "ministry");
}

TEST(PartnerDirectory, FailuresAreDistinguished) {
  const auto auth = make();
  EXPECT_EQ(auth.authenticate("", {}, kNow).failure, AuthFailure::kMissing);
  EXPECT_EQ(auth.authenticate("Basic dXNlcjpwdw==", {}, kNow).failure, AuthFailure::kMalformed);
  EXPECT_EQ(auth.authenticate("Bearer ", {}, kNow).failure, AuthFailure::kMalformed);
  EXPECT_EQ(auth.authenticate("Bearer key-three", {}, kNow).failure, AuthFailure::kInvalidKey);
  EXPECT_EQ(auth.authenticate("Bearer key-three", {}, kNow).partner, nullptr);
}

TEST(PartnerDirectory, ClientCertificateMapsByFingerprintOrSubject) {
  const auto auth = make();
  const auto by_fp = auth.authenticate("", cert(std::string(64, 'a'), "CN=whatever"), kNow);
  ASSERT_NE(by_fp.partner, nullptr);
  EXPECT_EQ(by_fp.partner->id, "ministry");
  EXPECT_EQ(by_fp.method, "mtls");
  const auto by_subject =
      auth.authenticate("", cert(std::string(64, 'b'), "CN=telecom-gw,O=Telecom,C=VN"), kNow);
  ASSERT_NE(by_subject.partner, nullptr);
  EXPECT_EQ(by_subject.partner->id, "telecom");
}

TEST(PartnerDirectory, UntrustedOrUnknownCertificateIsRefused) {
  const auto auth = make();
  EXPECT_EQ(auth.authenticate("", cert(std::string(64, 'a'), "", false), kNow).failure,
            AuthFailure::kUntrustedCert);
  EXPECT_EQ(auth.authenticate("", cert(std::string(64, 'c'), "CN=nobody"), kNow).failure,
            AuthFailure::kUnknownCert);
}

TEST(PartnerDirectory, CertificateAndKeyOfDifferentPartnersConflict) {
  const auto auth = make();
  const auto r = auth.authenticate("Bearer key-two", cert(std::string(64, 'a'), ""), kNow);
  EXPECT_EQ(r.partner, nullptr);
  EXPECT_EQ(r.failure, AuthFailure::kConflict);
  // The same partner both ways is fine.
  EXPECT_EQ(auth.authenticate("Bearer key-one", cert(std::string(64, 'a'), ""), kNow).partner->id,
            "ministry");
}

TEST(PartnerDirectory, TokenShapedCredentialWithoutJwtConfigIsAnUnknownKey) {
  const auto auth = make();
  EXPECT_EQ(auth.authenticate("Bearer aaa.bbb.ccc", {}, kNow).failure, AuthFailure::kInvalidKey);
}

TEST(Partner, OperationsFieldsAndPurposesAreScoped) {
  const auto auth = make();
  const Partner* p = auth.authenticate("Bearer key-one", {}, kNow).partner;
  EXPECT_TRUE(p->may("population", "lookup"));
  EXPECT_FALSE(p->may("population", "verify"));
  EXPECT_TRUE(p->fields_of("population").empty());
  EXPECT_TRUE(p->may_state("anything"));  // no purposes registered: any
  const Partner* t = auth.find("telecom");
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->may_state("subscriber-registration"));
  EXPECT_FALSE(t->may_state("marketing"));
}

TEST(AuthDetail, SaysWhatToSendWithoutEchoingTheCredential) {
  const auto auth = make();
  const auto r = auth.authenticate("Bearer secret-guess", {}, kNow);
  const std::string detail = auth_detail(r);
  EXPECT_NE(detail.find("API key is not valid"), std::string::npos);
  EXPECT_EQ(detail.find("secret-guess"), std::string::npos);
}

}  // namespace
}  // namespace lgsp::gateway
