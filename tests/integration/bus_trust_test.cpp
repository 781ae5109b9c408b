// The bus is not trusted (issue 19, item 11): whoever can write to a request topic must not
// be able to have a connector send registry data to a topic it reads. Connectors answer only
// on the configured reply topic, within its partitions.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "bus/client_properties.hpp"
#include "bus/consumer.hpp"
#include "bus/envelope.hpp"
#include "bus/producer.hpp"
#include "tests/support/stack.hpp"
#include "util/clock.hpp"

namespace lgsp::testing {
namespace {

using namespace std::chrono_literals;
namespace v1 = bus::v1;

/// A lookup of `citizen_id` as a forger would write it straight to the request topic.
std::string forged_lookup(const std::string& request_id, const std::string& citizen_id) {
  v1::Request r;
  r.set_request_id(request_id);
  r.set_registry("population");
  r.set_operation(v1::OPERATION_LOOKUP);
  r.set_subject_key("citizen_id");
  r.set_subject(citizen_id);
  r.add_fields("full_name");
  r.add_fields("permanent_address");
  r.set_purpose("forgery");
  r.set_partner_id("ministry");
  r.set_deadline_unix_ms(util::unix_ms_now() + 20000);
  return bus::encode(r);
}

/// Request ids of the messages in `topic`'s partition `partition` within `wait`.
std::vector<std::string> request_ids_in(const TestStack& stack, const std::string& topic,
                                        std::int32_t partition, std::chrono::milliseconds wait) {
  bus::Consumer c(bus::consumer_properties(stack.cfg.kafka, stack.bootstrap, "it-trust"),
                  "it-trust-" + topic);
  c.assign(topic, partition, RD_KAFKA_OFFSET_BEGINNING);
  std::vector<std::string> ids;
  const auto until = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < until) {
    const auto m = c.poll(100ms);
    if (!m || m->err) continue;
    if (const auto id = bus::find_header(m.get(), bus::kHeaderRequestId)) ids.emplace_back(*id);
  }
  return ids;
}

// Fails on 293675d: the connector answered the first forged request on evil.replies.
TEST(BusTrust, ConnectorsAnswerOnlyOnTheReplyTopicWithinItsPartitions) {
  TestStack stack;
  const bus::Topics topics{stack.cfg.kafka.topic_prefix};
  stack.cluster->create_topic("evil.replies", 1);
  const auto subject = stack.subjects(1).at(0);
  bus::Producer forger(bus::producer_properties(stack.cfg.kafka, stack.bootstrap, "it-forger"),
                       bus::Producer::Polling::kBackground);
  const auto send = [&](const std::string& id, const std::string& reply_to) {
    const bus::Headers headers{{std::string(bus::kHeaderReplyTo), reply_to},
                               {std::string(bus::kHeaderRequestId), id}};
    ASSERT_FALSE(forger.produce(topics.requests("population"), 0, id,
                                forged_lookup(id, subject.citizen_id), headers, {}));
  };
  send("to-evil-topic", "evil.replies:0");
  send("to-unknown-partition", topics.replies() + ":7");  // the stack has 2 reply partitions
  // A control the connector must answer, on partition 0 (the stack's gateway reads 1), so
  // the test sees that the connector did read the topic.
  send("control", topics.replies() + ":0");
  ASSERT_TRUE(forger.flush(5s));

  const auto replies = request_ids_in(stack, topics.replies(), 0, 5s);
  EXPECT_EQ(replies, std::vector<std::string>{"control"});
  EXPECT_TRUE(request_ids_in(stack, "evil.replies", 0, 500ms).empty())
      << "registry data went to a topic the request's writer chose";
  const std::string metrics = stack.metrics.serialize();
  EXPECT_NE(metrics.find("outcome=\"misdirected\",registry=\"population\"} 2"), std::string::npos)
      << metrics.substr(metrics.find("lgsp_connector_requests_total"), 1500);
}

}  // namespace
}  // namespace lgsp::testing
