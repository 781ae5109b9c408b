// Consent where the purpose needs it, over the real stack: the citizen app records a
// citizen's consent with that citizen's token; a bank stating a purpose that needs consent
// gets data only with a consent that is the citizen's, the bank's, for that purpose, in force
// and covering what it asks; the consent id is in the audit record and the citizen's access
// log; a revocation holds at the next request; a change feed cannot use the purpose.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "audit/store.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/stack.hpp"
#include "util/hashing.hpp"

namespace lgsp::testing {
namespace {

namespace json = boost::json;

constexpr const char* kBankKey = "test-consent-bank-key";
constexpr const char* kOtherBankKey = "test-consent-other-bank-key";

StackOptions consent_stack() {
  StackOptions o;
  o.extra_yaml =
      "consents:\n  store: {backend: sqlite, sqlite_path: @DIR@/consents.db}\n"
      "  purposes: [credit-scoring]\n  max_days: 365\n"
      "changes: {sqlite_path: @DIR@/changes.db}\n";
  const std::string bank_grants =
      "    purposes: [credit-scoring, fraud-check]\n"
      "    operations: [population.lookup, population.verify, insurance.lookup, "
      "citizen.profile]\n"
      "    fields: {population: [full_name, date_of_birth, gender, permanent_address], "
      "insurance: [status, coverage_end]}\n"
      "    changes: {civil-status.record-death: [date_of_death]}\n";
  o.extra_partners = "  - id: bank\n    name: Test bank\n    api_key_sha256: [" +
                     util::sha256_hex(kBankKey) + "]\n" + bank_grants +
                     "  - id: other-bank\n    api_key_sha256: [" + util::sha256_hex(kOtherBankKey) +
                     "]\n" + bank_grants + "  - id: shop\n    api_key_sha256: [" +
                     util::sha256_hex("test-shop-key") +
                     "]\n    purposes: [loyalty-programme]\n    operations: [population.lookup]\n"
                     "    fields: {population: [full_name]}\n";
  return o;
}

class Consents : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { stack_ = std::make_unique<TestStack>(consent_stack()); }
  static void TearDownTestSuite() { stack_.reset(); }

  /// The citizen app, with `token_for`'s token, calling /v1/consents`path`.
  static HttpResult app(const std::string& path, json::object body, const std::string& token_for) {
    body["purpose"] = "citizen-self-service";
    return http_call(stack_->api_port(), "POST", "/v1/consents" + path, json::serialize(body),
                     {{"Content-Type", "application/json"},
                      {"Authorization", std::string("Bearer ") + kCitizenAppKey},
                      {"Citizen-Token", citizen_token(token_for)}});
  }
  static HttpResult grant(const std::string& citizen, json::array scope,
                          const std::string& partner = "bank",
                          const std::string& purpose = "credit-scoring",
                          const std::string& expires_on = "2027-06-30") {
    return app("",
               {{"citizen_id", citizen},
                {"consent",
                 {{"partner_id", partner},
                  {"purpose", purpose},
                  {"scope", std::move(scope)},
                  {"expires_on", expires_on}}}},
               citizen);
  }
  static std::string granted(const std::string& citizen, json::array scope) {
    const auto r = grant(citizen, std::move(scope));
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(r.json().at("consent_id").as_string());
  }
  static HttpResult bank(const std::string& path, json::object body, const char* key = kBankKey) {
    if (!body.contains("purpose")) body["purpose"] = "credit-scoring";
    return post_json(stack_->api_port(), path, json::serialize(body), key);
  }
  static std::string problem_field(const HttpResult& r) {
    const auto j = r.json();
    if (!j.as_object().contains("errors") || j.at("errors").as_array().empty()) return "";
    return std::string(j.at("errors").at(0).at("field").as_string());
  }
  static std::string type_of(const HttpResult& r) {
    return std::string(r.json().at("type").as_string());
  }
  static domain::CitizenRecord citizen(int i) { return stack_->subjects(40).at(i); }

  static inline std::unique_ptr<TestStack> stack_;
};

TEST_F(Consents, APurposeThatNeedsConsentGetsDataOnlyWithTheCitizensConsent) {
  const auto who = citizen(0);
  const json::object lookup{{"citizen_id", who.citizen_id}};
  // No consent: refused, naming the member to send. Another purpose needs none.
  const auto bare = bank("/v1/population/lookup", lookup);
  ASSERT_EQ(bare.status, 403) << bare.body;
  EXPECT_EQ(type_of(bare), "urn:lgsp:problem:consent-required");
  EXPECT_EQ(problem_field(bare), "consent_id");
  auto fraud = lookup;
  fraud["purpose"] = "fraud-check";
  EXPECT_EQ(bank("/v1/population/lookup", fraud).status, 200);

  // The citizen consents to name and date of birth, and to the insurance registry whole.
  const std::string id =
      granted(who.citizen_id, {"population.full_name", "population.date_of_birth", "insurance"});
  EXPECT_EQ(id.substr(0, 3), "cs-");
  auto with = lookup;
  with["consent_id"] = id;
  const auto r = bank("/v1/population/lookup", with);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto record = r.json().at("record").as_object();
  EXPECT_EQ(record.at("full_name").as_string(), who.full_name);
  // Only what the consent covers: the partner's other granted fields are left out.
  EXPECT_FALSE(record.contains("gender")) << r.body;
  EXPECT_FALSE(record.contains("permanent_address")) << r.body;
  // Asking for a field outside it is refused, naming the consent.
  auto address = with;
  address["fields"] = json::array{"full_name", "permanent_address"};
  const auto outside = bank("/v1/population/lookup", address);
  EXPECT_EQ(outside.status, 403) << outside.body;
  EXPECT_EQ(type_of(outside), "urn:lgsp:problem:consent-out-of-scope");
  // A verify's claims are data too: gender is not in the scope.
  auto verify = with;
  verify["full_name"] = who.full_name;
  verify["gender"] = who.gender;
  EXPECT_EQ(bank("/v1/population/verify", verify).status, 403);
  verify.erase("gender");
  EXPECT_EQ(bank("/v1/population/verify", verify).status, 200);
  // The insurance registry is covered whole; the profile leaves out nothing but vehicles
  // (not granted anyway) and marks nothing refused.
  EXPECT_EQ(bank("/v1/insurance/lookup", with).status, 200);
  const auto profile = bank("/v1/citizen-profile", with);
  ASSERT_EQ(profile.status, 200) << profile.body;
  const auto parts = profile.json().at("parts").as_object();
  EXPECT_EQ(parts.at("population").at("status").as_string(), "ok") << profile.body;
  EXPECT_FALSE(parts.at("population").as_object().contains("permanent_address"));

  // The consent id is in the audit record of each access, and in the citizen's log: read
  // until the audit writer has stored the accesses (or the deadline passes).
  HttpResult log;
  int under_consent = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  do {
    log = stack_->access_log(who.citizen_id);
    ASSERT_EQ(log.status, 200) << log.body;
    under_consent = 0;
    const json::value accesses = log.json();
    for (const auto& a : accesses.at("accesses").as_array()) {
      if (a.at("partner_id").as_string() == "bank" && a.as_object().contains("consent_id") &&
          a.at("consent_id").as_string() == id) {
        ++under_consent;
      }
    }
    if (under_consent < 6) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (under_consent < 6 && std::chrono::steady_clock::now() < until);
  // Every request that presented it: two lookups and two verifications (one of each refused
  // for scope), the insurance lookup and the profile.
  EXPECT_EQ(under_consent, 6) << log.body;
}

TEST_F(Consents, AConsentCoversOnlyItsCitizenItsPartnerAndItsPurposeUntilRevoked) {
  const auto who = citizen(1);
  const auto someone_else = citizen(2);
  const std::string id = granted(who.citizen_id, {"population"});
  const json::object lookup{{"citizen_id", who.citizen_id}, {"consent_id", id}};
  ASSERT_EQ(bank("/v1/population/lookup", lookup).status, 200);

  // Another citizen: the consent is not theirs.
  auto other_citizen = lookup;
  other_citizen["citizen_id"] = someone_else.citizen_id;
  const auto r1 = bank("/v1/population/lookup", other_citizen);
  EXPECT_EQ(r1.status, 403) << r1.body;
  EXPECT_EQ(type_of(r1), "urn:lgsp:problem:consent-invalid");
  // Another partner presenting it learns only that it has no such consent, exactly as for
  // an id that exists nowhere.
  const auto r2 = bank("/v1/population/lookup", lookup, kOtherBankKey);
  EXPECT_EQ(r2.status, 403) << r2.body;
  auto unknown = lookup;
  unknown["consent_id"] = "cs-00000000000000000000000000000000";
  const auto r3 = bank("/v1/population/lookup", unknown);
  EXPECT_EQ(r3.status, 403);
  EXPECT_EQ(r2.json().at("errors").at(0).at("detail"), r3.json().at("errors").at(0).at("detail"));
  // Another purpose.
  auto fraud = lookup;
  fraud["purpose"] = "fraud-check";
  EXPECT_EQ(bank("/v1/population/lookup", fraud).status, 403);
  // Another registry.
  EXPECT_EQ(bank("/v1/insurance/lookup", lookup).status, 403);
  // A malformed id is a 400 naming it.
  auto malformed = lookup;
  malformed["consent_id"] = "001099012345";
  const auto r4 = bank("/v1/population/lookup", malformed);
  EXPECT_EQ(r4.status, 400);
  EXPECT_EQ(problem_field(r4), "consent_id");

  // Only the citizen revokes it: another citizen's token (for their own id) finds nothing.
  const auto stolen = app("/revoke", {{"citizen_id", someone_else.citizen_id}, {"consent_id", id}},
                          someone_else.citizen_id);
  EXPECT_EQ(stolen.status, 404) << stolen.body;
  EXPECT_EQ(bank("/v1/population/lookup", lookup).status, 200);
  // With the wrong token, nothing at all.
  EXPECT_EQ(
      app("/revoke", {{"citizen_id", who.citizen_id}, {"consent_id", id}}, someone_else.citizen_id)
          .status,
      403);
  const auto revoked =
      app("/revoke", {{"citizen_id", who.citizen_id}, {"consent_id", id}}, who.citizen_id);
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(revoked.json().at("state").as_string(), "revoked");
  // It holds at the next request.
  const auto after = bank("/v1/population/lookup", lookup);
  EXPECT_EQ(after.status, 403) << after.body;
  EXPECT_NE(after.body.find("revoked"), std::string::npos) << after.body;

  // The citizen's list shows it revoked; another citizen's list does not show it.
  const auto mine = app("/list", {{"citizen_id", who.citizen_id}}, who.citizen_id);
  ASSERT_EQ(mine.status, 200) << mine.body;
  ASSERT_EQ(mine.json().at("consents").as_array().size(), 1U) << mine.body;
  const json::value listed = mine.json().at("consents").at(0);
  EXPECT_EQ(listed.at("consent_id").as_string(), id);
  EXPECT_EQ(listed.at("partner_name").as_string(), "Test bank");
  EXPECT_EQ(listed.at("state").as_string(), "revoked");
  EXPECT_FALSE(listed.at("revoked_at").is_null());
  const auto theirs =
      app("/list", {{"citizen_id", someone_else.citizen_id}}, someone_else.citizen_id);
  ASSERT_EQ(theirs.status, 200);
  EXPECT_TRUE(theirs.json().at("consents").as_array().empty()) << theirs.body;
}

TEST_F(Consents, AGrantThatCannotBeHonouredIsRefusedNamingTheMember) {
  const auto who = citizen(3).citizen_id;
  // Without the citizen's token, or with another's, nothing is recorded.
  const auto no_token =
      http_call(stack_->api_port(), "POST", "/v1/consents",
                json::serialize(json::object{{"citizen_id", who}, {"purpose", "x"}}),
                {{"Content-Type", "application/json"},
                 {"Authorization", std::string("Bearer ") + kCitizenAppKey}});
  EXPECT_EQ(no_token.status, 400) << no_token.body;  // the consent member is missing first
  const auto wrong = app("",
                         {{"citizen_id", who},
                          {"consent",
                           {{"partner_id", "bank"},
                            {"purpose", "credit-scoring"},
                            {"scope", json::array{"population"}},
                            {"expires_on", "2027-01-31"}}}},
                         citizen(4).citizen_id);
  EXPECT_EQ(wrong.status, 403) << wrong.body;

  EXPECT_EQ(problem_field(grant(who, {"population"}, "no-such-bank")), "consent.partner_id");
  // A purpose that needs no consent, and one the partner is not registered for.
  EXPECT_EQ(problem_field(grant(who, {"population"}, "bank", "fraud-check")), "consent.purpose");
  const auto unregistered = grant(who, {"population"}, "shop");
  EXPECT_EQ(unregistered.status, 422) << unregistered.body;
  EXPECT_EQ(problem_field(unregistered), "consent.purpose");
  EXPECT_EQ(problem_field(grant(who, {"population.salary"})), "consent.scope");
  EXPECT_EQ(problem_field(grant(who, {})), "consent.scope");
  EXPECT_EQ(problem_field(grant(who, {"population"}, "bank", "credit-scoring", "2020-01-01")),
            "consent.expires_on");
  EXPECT_EQ(problem_field(grant(who, {"population"}, "bank", "credit-scoring", "2099-01-01")),
            "consent.expires_on");
  EXPECT_EQ(problem_field(grant(who, {"population"}, "bank", "credit-scoring", "31/12/2027")),
            "consent.expires_on");
  // None of them was recorded.
  const auto list = app("/list", {{"citizen_id", who}}, who);
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_TRUE(list.json().at("consents").as_array().empty()) << list.body;
}

TEST_F(Consents, AFeedCannotUseAPurposeThatNeedsConsent) {
  // A change feed read for the purpose: refused before anything is read, naming the purpose
  // (a feed of many citizens cannot carry each one's consent). Another purpose reads.
  const auto feed = http_call(stack_->api_port(), "GET", "/v1/changes?purpose=credit-scoring", "",
                              {{"Authorization", std::string("Bearer ") + kBankKey}});
  EXPECT_EQ(feed.status, 403) << feed.body;
  EXPECT_EQ(type_of(feed), "urn:lgsp:problem:consent-required");
  EXPECT_EQ(problem_field(feed), "purpose");
  const auto fraud = http_call(stack_->api_port(), "GET", "/v1/changes?purpose=fraud-check", "",
                               {{"Authorization", std::string("Bearer ") + kBankKey}});
  EXPECT_EQ(fraud.status, 200) << fraud.body;
  // The metric counts each kind of outcome by partner.
  const auto metrics = http_call(stack_->admin_port(), "GET", "/metrics", "", {});
  EXPECT_NE(metrics.body.find("lgsp_consent_checks_total{outcome=\"missing\",partner=\"bank\"}"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("lgsp_consent_changes_total{action=\"granted\"}"), std::string::npos);
}

}  // namespace
}  // namespace lgsp::testing
