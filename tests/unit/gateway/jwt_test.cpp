#include "gateway/jwt.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <functional>
#include <set>
#include <stdexcept>

#include "tests/support/jwt_signer.hpp"

namespace lgsp::gateway {

// Readable failures: the description instead of the enum's number.
void PrintTo(JwtError e, std::ostream* os) { *os << describe(e); }

namespace {

namespace json = boost::json;
using std::chrono::seconds;
using testing::TestIssuer;

constexpr std::string_view kIssuer = "https://idp.example.test";
constexpr std::string_view kAudience = "lgsp-gateway";
const auto kNow = std::chrono::system_clock::time_point(seconds(1'700'000'000));
constexpr std::int64_t kNowS = 1'700'000'000;

const TestIssuer& issuer() {
  static const TestIssuer instance;
  return instance;
}

// Same kids as issuer(), different keys: what a forger without the private keys can do.
const TestIssuer& impostor() {
  static const TestIssuer instance;
  return instance;
}

const Jwks& keys() {
  static const Jwks instance = Jwks::parse(issuer().jwks(), "test-jwks");
  return instance;
}

JwtSettings settings() { return {std::string(kIssuer), {"other-api", std::string(kAudience)}}; }

json::object claims() {
  auto c = testing::access_token_claims(kIssuer, kAudience, "ministry", kNow);
  c["jti"] = "token-1";
  return c;
}

json::object claims_with(std::string_view name, json::value v) {
  auto c = claims();
  c[name] = std::move(v);
  return c;
}

std::variant<JwtClaims, JwtError> verify(std::string_view token,
                                         const JwtSettings& s = settings()) {
  return verify_jwt(token, keys(), s, kNow);
}

std::optional<JwtError> error_of(const std::variant<JwtClaims, JwtError>& r) {
  if (const auto* e = std::get_if<JwtError>(&r)) return *e;
  return std::nullopt;
}

std::optional<JwtError> verify_error(std::string_view token, const JwtSettings& s = settings()) {
  return error_of(verify(token, s));
}

std::string segment(std::string_view token, int index) {
  std::size_t start = 0;
  for (int i = 0; i < index; ++i) start = token.find('.', start) + 1;
  return std::string(token.substr(start, token.find('.', start) - start));
}

// The message of Jwks::parse on `issuer().jwks()` after `edit` changes its first key.
std::string parse_error_after(const std::function<void(json::object&)>& edit) {
  json::value doc = json::parse(issuer().jwks());
  edit(doc.at("keys").as_array().at(0).as_object());
  try {
    Jwks::parse(json::serialize(doc), "partner-idp.jwks");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(JwtVerify, GoodRs256TokenYieldsItsClaims) {
  const auto r = verify(issuer().sign("RS256", claims()));
  ASSERT_TRUE(std::holds_alternative<JwtClaims>(r)) << describe(std::get<JwtError>(r));
  const auto& c = std::get<JwtClaims>(r);
  EXPECT_EQ(c.subject, "ministry");
  EXPECT_EQ(c.client_id, "ministry");
  EXPECT_EQ(c.issuer, kIssuer);
  EXPECT_EQ(c.jti, "token-1");
  EXPECT_EQ(c.expires_at, kNowS + 300);
}

TEST(JwtVerify, GoodEs256TokenIsAccepted) {
  const auto r = verify(issuer().sign("ES256", claims_with("sub", "svc-account-7")));
  ASSERT_TRUE(std::holds_alternative<JwtClaims>(r)) << describe(std::get<JwtError>(r));
  EXPECT_EQ(std::get<JwtClaims>(r).subject, "svc-account-7");
  EXPECT_EQ(std::get<JwtClaims>(r).client_id, "ministry");
}

TEST(JwtVerify, ExpiredTokenIsRejected) {
  EXPECT_EQ(verify_error(issuer().sign("RS256", claims_with("exp", kNowS - 3600))),
            JwtError::kExpired);
}

TEST(JwtVerify, TokenBeforeItsNotBeforeIsRejected) {
  EXPECT_EQ(verify_error(issuer().sign("ES256", claims_with("nbf", kNowS + 600))),
            JwtError::kNotYetValid);
}

TEST(JwtVerify, TokenIssuedInTheFutureIsRejected) {
  EXPECT_EQ(verify_error(issuer().sign("RS256", claims_with("iat", kNowS + 600))),
            JwtError::kNotYetValid);
}

TEST(JwtVerify, ClockSkewIsHonouredAtBothEdges) {
  EXPECT_EQ(verify_error(issuer().sign("RS256", claims_with("exp", kNowS - 59))), std::nullopt);
  EXPECT_EQ(verify_error(issuer().sign("RS256", claims_with("exp", kNowS - 60))),
            JwtError::kExpired);
  EXPECT_EQ(verify_error(issuer().sign("RS256", claims_with("nbf", kNowS + 60))), std::nullopt);
  EXPECT_EQ(verify_error(issuer().sign("RS256", claims_with("nbf", kNowS + 61))),
            JwtError::kNotYetValid);
  auto strict = settings();
  strict.clock_skew = seconds(0);
  EXPECT_EQ(verify_error(issuer().sign("RS256", claims_with("exp", kNowS - 59)), strict),
            JwtError::kExpired);
}

TEST(JwtVerify, FractionalNumericDatesAreAccepted) {
  EXPECT_EQ(verify_error(issuer().sign("RS256", claims_with("exp", kNowS + 10.5))), std::nullopt);
  EXPECT_EQ(verify_error(issuer().sign("RS256", claims_with("exp", "tomorrow"))),
            JwtError::kMalformed);
}

TEST(JwtVerify, MissingExpiryIsRejected) {
  auto c = claims();
  c.erase("exp");
  EXPECT_EQ(verify_error(issuer().sign("RS256", c)), JwtError::kMissingExpiry);
}

TEST(JwtVerify, WrongOrMissingIssuerIsRejected) {
  EXPECT_EQ(verify_error(issuer().sign("RS256", claims_with("iss", "https://idp.example.test/x"))),
            JwtError::kWrongIssuer);
  auto c = claims();
  c.erase("iss");
  EXPECT_EQ(verify_error(issuer().sign("RS256", c)), JwtError::kWrongIssuer);
}

TEST(JwtVerify, WrongOrMissingAudienceIsRejected) {
  EXPECT_EQ(verify_error(issuer().sign("RS256", claims_with("aud", "billing"))),
            JwtError::kWrongAudience);
  auto c = claims();
  c.erase("aud");
  EXPECT_EQ(verify_error(issuer().sign("RS256", c)), JwtError::kWrongAudience);
}

TEST(JwtVerify, AudienceArrayContainingOursIsAccepted) {
  EXPECT_EQ(verify_error(issuer().sign("RS256", claims_with("aud", {"billing", kAudience}))),
            std::nullopt);
  EXPECT_EQ(verify_error(issuer().sign("RS256", claims_with("aud", {"billing", "crm"}))),
            JwtError::kWrongAudience);
}

TEST(JwtVerify, HalfConfiguredSettingsAcceptNothing) {
  const auto token = issuer().sign("RS256", claims_with("iss", ""));
  JwtSettings no_issuer = settings();
  no_issuer.issuer.clear();
  EXPECT_EQ(verify_error(token, no_issuer), JwtError::kWrongIssuer);
  JwtSettings no_audience = settings();
  no_audience.audiences.clear();
  EXPECT_EQ(verify_error(issuer().sign("RS256", claims()), no_audience), JwtError::kWrongAudience);
}

TEST(JwtVerify, ClientIdFallsBackToAzp) {
  auto c = claims();
  c.erase("client_id");
  c["azp"] = "telecom";
  auto r = verify(issuer().sign("RS256", c));
  ASSERT_TRUE(std::holds_alternative<JwtClaims>(r));
  EXPECT_EQ(std::get<JwtClaims>(r).client_id, "telecom");

  c["client_id"] = "ministry";  // client_id wins when both are present
  r = verify(issuer().sign("RS256", c));
  ASSERT_TRUE(std::holds_alternative<JwtClaims>(r));
  EXPECT_EQ(std::get<JwtClaims>(r).client_id, "ministry");
}

TEST(JwtVerify, NonStringIdentityClaimIsMalformed) {
  EXPECT_EQ(verify_error(issuer().sign("RS256", claims_with("client_id", 42))),
            JwtError::kMalformed);
  EXPECT_EQ(verify_error(issuer().sign("RS256", claims_with("sub", json::object{}))),
            JwtError::kMalformed);
}

TEST(JwtVerify, TamperedPayloadFailsTheSignature) {
  for (const char* alg : {"RS256", "ES256"}) {
    const auto good = issuer().sign(alg, claims());
    const auto forged_payload =
        testing::base64url_encode(json::serialize(claims_with("client_id", "admin")));
    const auto forged = segment(good, 0) + "." + forged_payload + "." + segment(good, 2);
    EXPECT_EQ(verify_error(forged), JwtError::kBadSignature) << alg;
  }
}

TEST(JwtVerify, SignatureFromAnotherKeyUnderTheSameKidFails) {
  EXPECT_EQ(verify_error(impostor().sign("RS256", claims())), JwtError::kBadSignature);
  EXPECT_EQ(verify_error(impostor().sign("ES256", claims())), JwtError::kBadSignature);
}

TEST(JwtVerify, UnknownKidIsUnknownKey) {
  EXPECT_EQ(verify_error(issuer().sign("RS256", claims(), "rsa-2")), JwtError::kUnknownKey);
  const TestIssuer rotated("rsa-next", "ec-next");
  EXPECT_EQ(verify_error(rotated.sign("ES256", claims())), JwtError::kUnknownKey);
}

TEST(JwtVerify, WithoutKidTheOnlyKeyForTheAlgorithmIsUsed) {
  EXPECT_EQ(verify_error(issuer().sign("RS256", claims(), "")), std::nullopt);
  EXPECT_EQ(verify_error(issuer().sign("ES256", claims(), "")), std::nullopt);

  // Two RSA keys and no kid: choosing one would be a guess.
  json::array merged = issuer().public_jwks();
  for (auto& k : impostor().public_jwks()) {
    k.as_object()["kid"] = std::string(k.as_object()["kid"].as_string()) + "-b";
    merged.push_back(k);
  }
  const auto two = Jwks::parse(json::serialize(json::object{{"keys", merged}}), "merged");
  EXPECT_EQ(two.size(), 4U);
  EXPECT_EQ(error_of(verify_jwt(issuer().sign("RS256", claims(), ""), two, settings(), kNow)),
            JwtError::kUnknownKey);
  EXPECT_EQ(error_of(verify_jwt(issuer().sign("RS256", claims()), two, settings(), kNow)),
            std::nullopt);
}

// RFC 9068: only a token typed as an access token is one (fails on 293675d, which took an ID
// token or any JWT the issuer signed).
TEST(JwtVerify, OnlyAccessTokensAreAccepted) {
  const auto payload = json::serialize(claims());
  for (const char* typ : {"at+jwt", "application/at+jwt", "AT+JWT"}) {
    const auto header =
        json::serialize(json::object{{"alg", "RS256"}, {"kid", "rsa-1"}, {"typ", typ}});
    EXPECT_EQ(verify_error(issuer().sign_raw("RS256", header, payload)), std::nullopt) << typ;
  }
  for (const char* typ : {"JWT", "id_token+jwt", "at+jwt2", ""}) {
    const auto header =
        json::serialize(json::object{{"alg", "RS256"}, {"kid", "rsa-1"}, {"typ", typ}});
    EXPECT_EQ(verify_error(issuer().sign_raw("RS256", header, payload)),
              JwtError::kNotAnAccessToken)
        << typ;
  }
  EXPECT_EQ(verify_error(issuer().sign_raw("RS256", R"({"alg":"RS256","kid":"rsa-1"})", payload)),
            JwtError::kNotAnAccessToken);
}

TEST(JwtVerify, AlgNoneIsRejected) {
  EXPECT_EQ(verify_error(issuer().sign("none", claims())), JwtError::kUnsupportedAlgorithm);
  EXPECT_EQ(verify_error(issuer().sign_raw("none", R"({"alg":"None","kid":"rsa-1"})",
                                           json::serialize(claims()))),
            JwtError::kUnsupportedAlgorithm);
}

TEST(JwtVerify, Hs256KeyedWithThePublicKeyIsRejected) {
  EXPECT_EQ(verify_error(issuer().sign("HS256", claims())), JwtError::kUnsupportedAlgorithm);
}

TEST(JwtVerify, OtherRsaAndEcAlgorithmsAreRejected) {
  for (const char* alg : {"RS512", "PS256", "ES384", "rs256", ""}) {
    const auto header = json::serialize(json::object{{"alg", alg}, {"kid", "rsa-1"}});
    EXPECT_EQ(verify_error(issuer().sign_raw("RS256", header, json::serialize(claims()))),
              JwtError::kUnsupportedAlgorithm)
        << alg;
  }
}

TEST(JwtVerify, AlgorithmThatDoesNotMatchTheKeyTypeIsRejected) {
  const auto payload = json::serialize(claims());
  EXPECT_EQ(verify_error(issuer().sign_raw("ES256", R"({"alg":"ES256","kid":"rsa-1"})", payload)),
            JwtError::kUnsupportedAlgorithm);
  EXPECT_EQ(verify_error(issuer().sign_raw("RS256", R"({"alg":"RS256","kid":"ec-1"})", payload)),
            JwtError::kUnsupportedAlgorithm);
}

TEST(JwtVerify, MalformedTokensAreMalformed) {
  const auto good = issuer().sign("RS256", claims());
  const auto payload = json::serialize(claims());
  const std::vector<std::string> tokens = {
      "",
      "garbage",
      segment(good, 0) + "." + segment(good, 1),
      good + "." + segment(good, 2),
      "e!J.e30." + segment(good, 2),                        // bad base64 in the header
      segment(good, 0) + "." + segment(good, 1) + ".a*b",   // bad base64 in the signature
      issuer().sign_raw("RS256", "not json", payload),      // header not JSON
      issuer().sign_raw("RS256", R"(["RS256"])", payload),  // header not an object
      issuer().sign_raw("RS256", R"({"alg":"RS256","kid":"rsa-1"})", "not json"),
      issuer().sign_raw("RS256", R"({"alg":"RS256","kid":"rsa-1"})", "[1,2]"),
      issuer().sign_raw("RS256", R"({"kid":"rsa-1"})", payload),  // no alg
      issuer().sign_raw("RS256", R"({"alg":256,"kid":"rsa-1"})", payload),
      issuer().sign_raw("RS256", R"({"alg":"RS256","kid":7})", payload),
      issuer().sign_raw("RS256", R"({"alg":"RS256","kid":""})", payload),
      issuer().sign_raw("RS256", R"({"alg":"RS256","kid":"rsa-1","crit":["exp"]})", payload),
      issuer().sign("RS256", claims_with("pad", json::string(kMaxJwtBytes, 'x'))),
  };
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    EXPECT_EQ(verify_error(tokens[i]), JwtError::kMalformed) << "token #" << i;
  }
}

TEST(JwtVerify, NonCanonicalBase64SignatureIsMalformed) {
  // An RS256 signature is 256 bytes: its last base64url character carries 4 unused bits.
  // Flipping one of them decodes to the same bytes, which must still not be accepted.
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  auto token = issuer().sign("RS256", claims());
  ASSERT_EQ(error_of(verify(token)), std::nullopt);
  token.back() = kAlphabet[kAlphabet.find(token.back()) ^ 1U];
  EXPECT_EQ(verify_error(token), JwtError::kMalformed);
}

TEST(JwtVerify, Es256SignatureOfWrongLengthOrZeroFails) {
  const auto good = issuer().sign("ES256", claims());
  const auto signed_part = segment(good, 0) + "." + segment(good, 1) + ".";
  // A valid r||s with a byte appended must not verify: only exactly 64 bytes are r||s.
  const std::string sig = testing::base64url_decode(segment(good, 2));
  ASSERT_EQ(sig.size(), 64U);
  EXPECT_EQ(verify_error(signed_part + testing::base64url_encode(sig + '\0')),
            JwtError::kBadSignature);
  EXPECT_EQ(verify_error(signed_part + testing::base64url_encode(std::string(65, 'x'))),
            JwtError::kBadSignature);
  EXPECT_EQ(verify_error(signed_part + testing::base64url_encode(std::string(63, 'x'))),
            JwtError::kBadSignature);
  EXPECT_EQ(verify_error(signed_part + testing::base64url_encode(std::string(64, '\0'))),
            JwtError::kBadSignature);
  EXPECT_EQ(verify_error(signed_part), JwtError::kBadSignature);
}

TEST(JwtVerify, HostileInputNeverThrows) {
  const auto good = issuer().sign("ES256", claims());
  for (const std::string& token :
       {std::string("..."), std::string(".."), std::string(kMaxJwtBytes + 1, 'a'),
        std::string("\0\0.\0.\0", 6), good.substr(0, good.size() / 2), good + good}) {
    std::optional<JwtError> error;
    EXPECT_NO_THROW(error = verify_error(token));
    EXPECT_TRUE(error.has_value());
  }
}

TEST(JwtDescribe, EveryErrorHasItsOwnText) {
  std::set<std::string_view> texts;
  for (const auto e :
       {JwtError::kMalformed, JwtError::kUnsupportedAlgorithm, JwtError::kUnknownKey,
        JwtError::kBadSignature, JwtError::kExpired, JwtError::kNotYetValid, JwtError::kWrongIssuer,
        JwtError::kWrongAudience, JwtError::kMissingExpiry}) {
    EXPECT_FALSE(describe(e).empty());
    texts.insert(describe(e));
  }
  EXPECT_EQ(texts.size(), 9U);
}

TEST(JwtShape, LooksLikeJwtTellsTokensFromApiKeys) {
  EXPECT_TRUE(looks_like_jwt(issuer().sign("RS256", claims())));
  EXPECT_TRUE(looks_like_jwt(issuer().sign("none", claims())));
  EXPECT_FALSE(looks_like_jwt("lgsp_live_4f9a2c1e"));
  EXPECT_FALSE(looks_like_jwt("a.b"));
  EXPECT_FALSE(looks_like_jwt("a.b.c.d"));
  EXPECT_FALSE(looks_like_jwt(".b.c"));
  EXPECT_FALSE(looks_like_jwt("a..c"));
  EXPECT_FALSE(looks_like_jwt("a b.c.d"));
  EXPECT_FALSE(looks_like_jwt("a+b.c/d.e="));
}

TEST(Jwks, LoadsBothKeysOfATestIssuer) {
  EXPECT_EQ(keys().size(), 2U);
  EXPECT_EQ(keys().kids(), (std::vector<std::string>{"rsa-1", "ec-1"}));
}

TEST(Jwks, NotJsonOrNoKeysArrayNamesTheDocument) {
  EXPECT_THROW(
      {
        try {
          Jwks::parse("{not json", "partner-idp.jwks");
        } catch (const std::runtime_error& e) {
          EXPECT_NE(std::string(e.what()).find("partner-idp.jwks: not valid JSON"),
                    std::string::npos)
              << e.what();
          throw;
        }
      },
      std::runtime_error);
  EXPECT_THROW(Jwks::parse(R"({"keys": {}})", "x"), std::runtime_error);
  EXPECT_THROW(Jwks::parse(R"([])", "x"), std::runtime_error);
}

TEST(Jwks, ShortRsaKeyIsRejectedNamingTheKey) {
  const TestIssuer weak("weak-rsa", "ec-w", 1024);
  try {
    Jwks::parse(weak.jwks(), "weak.jwks");
    ADD_FAILURE() << "1024-bit key accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("weak.jwks: key #0 (kid 'weak-rsa'): RSA key has 1024"),
              std::string::npos)
        << e.what();
  }
}

TEST(Jwks, BrokenKeysAreErrorsThatNameTheKey) {
  const auto expect_error = [](const std::string& message, std::string_view reason) {
    EXPECT_NE(message.find("partner-idp.jwks: key #0 (kid 'rsa-1'): "), std::string::npos)
        << message;
    EXPECT_NE(message.find(reason), std::string::npos) << message;
  };
  expect_error(parse_error_after([](json::object& k) { k["alg"] = "ES256"; }), "contradicts");
  expect_error(parse_error_after([](json::object& k) { k["d"] = "AAAA"; }), "private");
  expect_error(parse_error_after([](json::object& k) { k["n"] = "a+b/"; }), "\"n\"");
  expect_error(parse_error_after([](json::object& k) { k.erase("e"); }), "\"e\" missing");
  expect_error(parse_error_after([](json::object& k) { k["kty"] = 1; }), "\"kty\"");
}

TEST(Jwks, EcPointOffTheCurveIsRejected) {
  json::value doc = json::parse(issuer().jwks());
  auto& ec = doc.at("keys").as_array().at(1).as_object();
  ec["y"] = ec["x"];
  try {
    Jwks::parse(json::serialize(doc), "idp");
    ADD_FAILURE() << "off-curve point accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("idp: key #1 (kid 'ec-1'): "), std::string::npos)
        << e.what();
  }
}

TEST(Jwks, DuplicateKidIsRejected) {
  json::value doc = json::parse(issuer().jwks());
  doc.at("keys").as_array().at(1).as_object()["kid"] = "rsa-1";
  EXPECT_THROW(Jwks::parse(json::serialize(doc), "idp"), std::runtime_error);
}

TEST(Jwks, KeysNotForSigningOrUnsupportedAreSkipped) {
  json::value doc = json::parse(issuer().jwks());
  auto& list = doc.at("keys").as_array();
  list.at(0).as_object()["use"] = "enc";
  list.push_back(json::object{{"kty", "oct"}, {"k", "c2VjcmV0"}});
  list.push_back(json::object{{"kty", "EC"}, {"crv", "P-384"}, {"x", "AA"}, {"y", "AA"}});
  const auto jwks = Jwks::parse(json::serialize(doc), "idp");
  EXPECT_EQ(jwks.kids(), std::vector<std::string>{"ec-1"});
  EXPECT_EQ(error_of(verify_jwt(issuer().sign("RS256", claims()), jwks, settings(), kNow)),
            JwtError::kUnknownKey);

  list.at(1).as_object()["key_ops"] = json::array{"encrypt"};
  EXPECT_THROW(Jwks::parse(json::serialize(doc), "idp"), std::runtime_error);  // none usable
}

TEST(Jwks, LoadFileReadsTheDocumentAndNamesAMissingFile) {
  const auto path =
      std::filesystem::temp_directory_path() /
      ("lgsp-jwt-test-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + ".jwks");
  issuer().write_jwks(path.string());
  const auto loaded = Jwks::load_file(path.string());
  std::filesystem::remove(path);
  EXPECT_EQ(loaded.size(), 2U);
  EXPECT_EQ(error_of(verify_jwt(issuer().sign("ES256", claims()), loaded, settings(), kNow)),
            std::nullopt);
  try {
    Jwks::load_file(path.string());
    ADD_FAILURE() << "missing file loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lgsp::gateway
