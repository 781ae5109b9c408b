#include "bus/envelope.hpp"

#include <gtest/gtest.h>

namespace lgsp::bus {
namespace {

TEST(Envelope, RequestRoundTripsEveryField) {
  v1::Request r;
  r.set_request_id("abc");
  r.set_registry("population");
  r.set_operation(v1::OPERATION_VERIFY);
  r.set_subject_key("citizen_id");
  r.set_subject("001099012345");
  r.add_fields("full_name");
  r.set_purpose("telecom-subscriber-registration");
  r.set_partner_id("viettel");
  r.set_deadline_unix_ms(1234567890123);
  (*r.mutable_claims())["full_name"] = "Nguyễn Văn An";
  r.set_on_behalf_of("officer-7");
  r.set_procedure_code("1.001234");
  const auto back = decode_request(encode(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->SerializeAsString(), r.SerializeAsString());
  EXPECT_EQ(back->claims().at("full_name"), "Nguyễn Văn An");
  EXPECT_FALSE(back->claims().contains("gender"));
  EXPECT_EQ(back->subject_key(), "citizen_id");
}

TEST(Envelope, ReplyRoundTripsTheModulesAnswer) {
  v1::Reply r;
  r.set_request_id("x");
  r.set_status(v1::STATUS_OK);
  r.set_answer_json(R"({"record":{"full_name":"Trần Thị B"}})");
  const auto back = decode_reply(encode(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->answer_json(), r.answer_json());
}

TEST(Envelope, BundlesRoundTripEachRequestAndReply) {
  v1::RequestBundle requests;
  for (const char* id : {"r1", "r2", "r3"}) {
    v1::Request& r = *requests.add_requests();
    r.set_request_id(id);
    r.set_registry("population");
    r.set_subject_key("citizen_id");
    r.set_subject("001099012345");
    r.set_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  }
  const auto back = decode_request_bundle(encode(requests));
  ASSERT_TRUE(back);
  ASSERT_EQ(back->requests_size(), 3);
  EXPECT_EQ(back->requests(2).request_id(), "r3");
  EXPECT_EQ(back->requests(0).traceparent(), requests.requests(0).traceparent());

  v1::ReplyBundle replies;
  replies.add_replies()->set_request_id("r2");
  replies.add_replies()->set_request_id("r1");
  replies.mutable_replies(1)->mutable_verify()->set_match(true);
  const auto answered = decode_reply_bundle(encode(replies));
  ASSERT_TRUE(answered);
  ASSERT_EQ(answered->replies_size(), 2);
  EXPECT_EQ(answered->replies(1).request_id(), "r1");
  EXPECT_TRUE(answered->replies(1).verify().match());
}

TEST(Envelope, GarbageIsNotAnEnvelope) {
  EXPECT_FALSE(decode_request("\xff\xff\xff\xff"));
  EXPECT_FALSE(decode_request_bundle("\xff\xff\xff\xff"));
  EXPECT_FALSE(decode_reply_bundle("\xff\xff\xff\xff"));
}

TEST(ReplyTo, RoundTripsAndRejectsMalformed) {
  const auto r = parse_reply_to(format_reply_to({"lgsp.replies", 3}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->topic, "lgsp.replies");
  EXPECT_EQ(r->partition, 3);
  EXPECT_FALSE(parse_reply_to("lgsp.replies"));
  EXPECT_FALSE(parse_reply_to("lgsp.replies:-1"));
  EXPECT_FALSE(parse_reply_to(":2"));
  EXPECT_FALSE(parse_reply_to("t:2x"));
}

TEST(Topics, NamesFollowThePrefix) {
  const Topics t{"test7"};
  EXPECT_EQ(t.requests("population"), "test7.population.requests");
  EXPECT_EQ(t.replies(), "test7.replies");
}

// Message keys are keyed hashes: stable for one secret, different under another, and not the
// plain SHA-256 that anyone reading the topic could reverse by trying every citizen ID.
// (On 293675d the key was util::sha256_hex(citizen ID).)
TEST(MessageKeys, AreKeyedHashesOfTheSubject) {
  const std::string id = "001099012345";
  const MessageKeys a("secret a");
  EXPECT_EQ(a.key(id), MessageKeys("secret a").key(id));
  EXPECT_NE(a.key(id), MessageKeys("secret b").key(id));
  EXPECT_NE(a.key(id), util::sha256_hex(id));
  EXPECT_EQ(a.key(id).size(), 64U);
  EXPECT_EQ(a.key(id).find(id), std::string::npos);
  EXPECT_NE(a.key(id), a.key("001099012346"));
  EXPECT_NE(MessageKeys().key(id), MessageKeys().key(id)) << "no secret: a random one each";
}

}  // namespace
}  // namespace lgsp::bus
