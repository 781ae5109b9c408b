// The bus is not trusted (issue 19, items 11 and 12): whoever can write to a request topic
// must not be able to have a connector send registry data to a topic it reads, nor ask for
// anything without the registry's key; whoever can read the topics must not read personal
// data. Connectors answer only on the configured reply topic, within its partitions, and
// only sealed envelopes; the gateway takes only replies sealed by the registry it asked; the
// audit writer only events sealed with the audit key.
#include <gtest/gtest.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "bus/client_properties.hpp"
#include "bus/consumer.hpp"
#include "bus/envelope.hpp"
#include "bus/producer.hpp"
#include "gateway/bus_client.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/stack.hpp"
#include "util/clock.hpp"

namespace lgsp::testing {
namespace {

using namespace std::chrono_literals;
namespace v1 = bus::v1;

/// A lookup of `citizen_id` as a forger would write it straight to the request topic
/// (unsealed: the forger holds no key).
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
  // Here the writer even holds the population key (a leaked key, or a connector host): the
  // reply address is still bounded.
  const auto sealer = bus::envelope_sealer(stack.cfg.kafka, {"population"});
  const auto send = [&](const std::string& id, const std::string& reply_to) {
    const bus::Headers headers{{std::string(bus::kHeaderReplyTo), reply_to},
                               {std::string(bus::kHeaderRequestId), id}};
    const std::string topic = topics.requests("population");
    ASSERT_FALSE(
        forger.produce(topic, 0, id,
                       sealer->seal("population", bus::request_context(topic, reply_to, {}),
                                    forged_lookup(id, subject.citizen_id)),
                       headers, {}));
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

// Fails on 72190d0: the connector answered every one of these (it read plain envelopes and
// trusted their headers).
TEST(BusTrust, RequestsNotSealedWithTheRegistrysKeyForTheirRouteAreNotAnswered) {
  TestStack stack;
  const bus::Topics topics{stack.cfg.kafka.topic_prefix};
  const auto subject = stack.subjects(1).at(0);
  const std::string topic = topics.requests("population");
  const std::string to_0 = topics.replies() + ":0";
  bus::Producer writer(bus::producer_properties(stack.cfg.kafka, stack.bootstrap, "it-forger"),
                       bus::Producer::Polling::kBackground);
  const auto send = [&](const std::string& id, const std::string& reply_to,
                        const std::string& value) {
    const bus::Headers headers{{std::string(bus::kHeaderReplyTo), reply_to},
                               {std::string(bus::kHeaderRequestId), id}};
    ASSERT_FALSE(writer.produce(topic, 0, id, value, headers, {}));
  };
  const auto genuine = bus::envelope_sealer(stack.cfg.kafka, {"population", "vehicle"});
  const util::Sealer own_key({{"population", {{"20261201", std::string(32, 'f')}}}}, {});
  const auto lookup = [&](const std::string& id) { return forged_lookup(id, subject.citizen_id); };
  // A plain envelope: what any writer to the topic could send.
  send("plain", to_0, lookup("plain"));
  // Sealed under a key of the writer's own, with the right name.
  send("own-key", to_0,
       own_key.seal("population", bus::request_context(topic, to_0, {}), lookup("own-key")));
  // A genuine sealed request whose reply address was changed in transit (partition 1 is the
  // stack gateway's: in bounds, so only the seal can refuse it).
  send("rerouted", topics.replies() + ":1",
       genuine->seal("population", bus::request_context(topic, to_0, {}), lookup("rerouted")));
  // Sealed with the vehicle registry's key (its connector's host), sent to population.
  send("other-registry", to_0,
       genuine->seal("vehicle", bus::request_context(topic, to_0, {}), lookup("other-registry")));
  // A control sealed as the gateway seals: answered on partition 0.
  send("control", to_0,
       genuine->seal("population", bus::request_context(topic, to_0, {}), lookup("control")));
  ASSERT_TRUE(writer.flush(5s));

  EXPECT_EQ(request_ids_in(stack, topics.replies(), 0, 5s), std::vector<std::string>{"control"});
  EXPECT_TRUE(request_ids_in(stack, topics.replies(), 1, 300ms).empty());
  const std::string metrics = stack.metrics.serialize();
  EXPECT_NE(metrics.find("outcome=\"unauthenticated\",registry=\"population\"} 4"),
            std::string::npos)
      << metrics.substr(metrics.find("lgsp_connector_requests_total"), 1500);
}

/// Every message of `topic` (partitions 0..partitions-1), read to the end.
std::vector<std::string> values_in(const TestStack& stack, const std::string& topic,
                                   std::int32_t partitions) {
  std::vector<std::string> values;
  auto props = bus::consumer_properties(stack.cfg.kafka, stack.bootstrap, "it-reader");
  props.emplace_back("enable.partition.eof", "true");
  for (std::int32_t p = 0; p < partitions; ++p) {
    bus::Consumer c(props, "it-reader-" + topic + std::to_string(p));
    c.assign(topic, p, RD_KAFKA_OFFSET_BEGINNING);
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < until) {
      const auto m = c.poll(50ms);
      if (m && m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) break;
      if (m && !m->err) values.emplace_back(bus::payload(m.get()));
    }
  }
  return values;
}

// Fails on 72190d0: the request topic carried the citizen ID, the reply topic the name and
// address, in plain protobuf.
TEST(BusTrust, ReadersOfTheTopicsSeeNoPersonalData) {
  TestStack stack({.audit_writer = true});
  const auto subject = stack.subjects(1).at(0);
  const auto r = post_json(stack.api_port(), "/v1/population/lookup",
                           boost::json::serialize(boost::json::object{
                               {"citizen_id", subject.citizen_id}, {"purpose", "p"}}),
                           kMinistryKey);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_NE(r.body.find(subject.full_name), std::string::npos) << "the partner got the name";
  ASSERT_GE(stack.wait_for_audit(1), 1);

  const bus::Topics topics{stack.cfg.kafka.topic_prefix};
  std::size_t seen = 0;
  for (const auto& [topic, partitions] :
       {std::pair{topics.requests("population"), 4}, std::pair{topics.replies(), 2},
        std::pair{topics.audit(), 1}}) {
    for (const auto& value : values_in(stack, topic, partitions)) {
      ++seen;
      EXPECT_TRUE(value.starts_with("LGSE")) << topic << ": not sealed";
      EXPECT_EQ(value.find(subject.citizen_id), std::string::npos) << topic;
      EXPECT_EQ(value.find(subject.full_name), std::string::npos) << topic;
      EXPECT_EQ(value.find("ministry"), std::string::npos) << topic << ": who asked";
    }
  }
  EXPECT_GE(seen, 3U) << "the request, its reply and its audit event";
}

// Fails on 72190d0: the gateway completed the exchange with the first reply carrying the
// request's id, whoever wrote it.
TEST(BusTrust, TheGatewayTakesOnlyRepliesSealedByTheRegistryItAsked) {
  TestStack stack({.start_connector = false});
  const auto& kafka = stack.cfg.kafka;
  const bus::Topics topics{kafka.topic_prefix};
  obs::Metrics metrics("it-trust-replies");
  gateway::GatewayProbe probe(metrics);
  gateway::BusClient client({topics,
                             0,
                             bus::producer_properties(kafka, stack.bootstrap, "it-replies"),
                             bus::consumer_properties(kafka, stack.bootstrap, "it-replies"),
                             100,
                             {"population"},
                             64,
                             {},
                             bus::envelope_sealer(kafka, {"population"})},
                            probe);
  client.start();
  boost::asio::io_context ioc;
  auto work = boost::asio::make_work_guard(ioc);
  std::thread io([&] { ioc.run(); });

  v1::Request request;
  request.set_request_id("asked-population");
  request.set_registry("population");
  request.set_operation(v1::OPERATION_LOOKUP);
  request.set_subject_key("citizen_id");
  request.set_subject("001234567890");
  std::promise<v1::Reply> answered;
  client.async_call(request, {}, std::chrono::steady_clock::now() + 10s,
                    boost::asio::bind_executor(ioc, [&](boost::system::error_code ec, v1::Reply r) {
                      if (ec) r.set_detail("error: " + ec.message());
                      answered.set_value(std::move(r));
                    }));
  // No connector runs: only what this test writes answers.
  const auto reply = [](const std::string& detail) {
    v1::Reply r;
    r.set_request_id("asked-population");
    r.set_status(v1::STATUS_OK);
    r.set_detail(detail);
    r.set_answer_json(R"({"record":{"full_name":"Forged"}})");
    return bus::encode(r);
  };
  const std::string to_0 = topics.replies() + ":0";
  const auto keys = bus::envelope_sealer(kafka, {"population", "vehicle"});
  bus::Producer writer(bus::producer_properties(kafka, stack.bootstrap, "it-reply-forger"),
                       bus::Producer::Polling::kBackground);
  for (const auto& value :
       {reply("plain"),
        keys->seal("vehicle", bus::reply_context(to_0, {}), reply("sealed by vehicle")),
        keys->seal("population", bus::reply_context(topics.replies() + ":1", {}),
                   reply("sealed for another partition")),
        keys->seal("population", bus::reply_context(to_0, {}), reply("genuine"))}) {
    ASSERT_FALSE(writer.produce(topics.replies(), 0, {}, value, {}, {}));
    ASSERT_TRUE(writer.flush(5s));
  }
  auto got = answered.get_future();
  ASSERT_EQ(got.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(got.get().detail(), "genuine");
  EXPECT_NE(metrics.serialize().find("lgsp_gateway_unauthenticated_replies_total 3"),
            std::string::npos)
      << metrics.serialize().substr(0, 400);
  client.stop();
  work.reset();
  io.join();
}

}  // namespace
}  // namespace lgsp::testing
