// Request bundles over the real embedded Kafka cluster: interactive requests that reach the
// gateway's bus client together travel as one Kafka message per partition, and each still
// gets its own answer; a connector answers a bundle with one message and leaves out what
// expired.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <latch>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bus/client_properties.hpp"
#include "bus/consumer.hpp"
#include "bus/envelope.hpp"
#include "bus/producer.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/stack.hpp"

namespace lgsp::testing {
namespace {

namespace json = boost::json;
namespace v1 = bus::v1;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

enum class Expect { kMatch, kMismatch, kUnknown };

/// Unix milliseconds `d` from now: a request's deadline.
std::int64_t unix_ms_in(std::chrono::milliseconds d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             (std::chrono::system_clock::now() + d).time_since_epoch())
      .count();
}

/// Adds a population verify of `subject` under the claimed `name` to `bundle`.
void add_verify(v1::RequestBundle& bundle, const std::string& id,
                const domain::CitizenRecord& subject, const std::string& name,
                std::int64_t deadline_unix_ms) {
  v1::Request& r = *bundle.add_requests();
  r.set_request_id(id);
  r.set_registry("population");
  r.set_operation(v1::OPERATION_VERIFY);
  r.set_partner_id("ministry");
  r.set_purpose("bundle-test");
  r.set_deadline_unix_ms(deadline_unix_ms);
  r.set_subject_key("citizen_id");
  r.set_subject(subject.citizen_id);
  (*r.mutable_claims())["full_name"] = name;
}

/// Publishes `bundle` to the population connector as the gateway would, asking for the
/// reply on partition `reply_partition` of the replies topic.
/// Publishes `bundle` as the gateway does: sealed with the population key of `stack`.
void publish_bundle(const TestStack& stack, bus::Producer& producer,
                    const v1::RequestBundle& bundle, std::int32_t reply_partition) {
  const bus::Topics topics{stack.cfg.kafka.topic_prefix};
  const std::string topic = topics.requests("population");
  const std::string reply_to = bus::format_reply_to({topics.replies(), reply_partition});
  const std::string count = std::to_string(bundle.requests_size());
  const auto sealer = bus::envelope_sealer(stack.cfg.kafka, {"population"});
  const auto ec = producer.produce(
      topic, 0, {},
      sealer->seal("population", bus::request_context(topic, reply_to, count), bus::encode(bundle)),
      {{std::string(bus::kHeaderReplyTo), reply_to}, {std::string(bus::kHeaderBundle), count}},
      [](rd_kafka_resp_err_t) {});
  ASSERT_FALSE(ec) << ec.message();
}

TEST(Bundles, ConcurrentVerifiesShareMessagesAndEachGetsItsOwnAnswer) {
  TestStack stack;
  constexpr int kClients = 48;
  constexpr int kRounds = 4;
  const auto subjects = stack.subjects(kClients);
  ASSERT_EQ(subjects.size(), static_cast<std::size_t>(kClients));

  std::mutex mu;
  std::vector<std::string> failures;
  std::latch start(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      start.arrive_and_wait();
      for (int round = 0; round < kRounds; ++round) {
        // Every client asks something different each round, so a reply handed to the
        // wrong caller shows as a wrong answer.
        const auto& s = subjects[static_cast<std::size_t>(c)];
        const auto expect = static_cast<Expect>((c + round) % 3);
        json::object body{{"purpose", "bundle-test"}, {"date_of_birth", s.date_of_birth}};
        body["citizen_id"] = expect == Expect::kUnknown
                                 ? "09639999" + std::to_string(1000 + c * kRounds + round)
                                 : s.citizen_id;
        body["full_name"] = expect == Expect::kMismatch ? "Không Phải Tên Này" : s.full_name;
        const auto r = post_json(stack.api_port(), "/v1/population/verify", json::serialize(body),
                                 kMinistryKey);
        std::string wrong;
        if (r.status != 200) {
          wrong = "status " + std::to_string(r.status) + ": " + r.body;
        } else {
          const auto j = r.json().as_object();
          if (j.at("match").as_bool() != (expect == Expect::kMatch)) wrong = "match: " + r.body;
          if (j.at("subject_found").as_bool() != (expect != Expect::kUnknown))
            wrong = "subject_found: " + r.body;
          if (j.at("request_id").as_string() != r.header("x-request-id"))
            wrong = "request id: " + r.body;
        }
        if (!wrong.empty()) {
          std::lock_guard lock(mu);
          failures.push_back("client " + std::to_string(c) + " round " + std::to_string(round) +
                             ": " + wrong);
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " wrong answers, first: " << failures[0];

  // Every request was published, and fewer messages than requests carried them.
  const double requests =
      metric_value(stack.admin_port(), "lgsp_gateway_bus_requests_per_message_sum");
  const double messages =
      metric_value(stack.admin_port(), "lgsp_gateway_bus_requests_per_message_count");
  EXPECT_GE(requests, kClients * kRounds);
  EXPECT_LT(messages, requests) << "no two requests shared a message";
}

TEST(Bundles, ConnectorAnswersABundleInOneMessageAndLeavesOutExpiredRequests) {
  TestStack stack;
  const auto& kafka = stack.cfg.kafka;
  const bus::Topics topics{kafka.topic_prefix};
  // Reply partition 0 is ours (the stack's gateway, instance 1, owns partition 1).
  bus::Consumer replies(bus::consumer_properties(kafka, stack.bootstrap, "it-bundle"), "it-bundle");
  replies.assign(topics.replies(), 0, RD_KAFKA_OFFSET_END);
  bus::Producer producer(bus::producer_properties(kafka, stack.bootstrap, "it-bundle"),
                         bus::Producer::Polling::kBackground);

  const auto subjects = stack.subjects(2);
  v1::RequestBundle bundle;
  add_verify(bundle, "b-match", subjects[0], subjects[0].full_name, unix_ms_in(30s));
  add_verify(bundle, "b-expired", subjects[1], subjects[1].full_name, unix_ms_in(-1s));
  add_verify(bundle, "b-mismatch", subjects[1], "Không Phải Tên Này", unix_ms_in(30s));

  // A consumer assigned at "end" reads from the end as of its first fetch: let it settle.
  const auto settle = Clock::now() + 1s;
  while (Clock::now() < settle) replies.poll(50ms);
  ASSERT_NO_FATAL_FAILURE(publish_bundle(stack, producer, bundle, 0));

  std::optional<v1::ReplyBundle> answered;
  const auto until = Clock::now() + 20s;
  while (!answered && Clock::now() < until) {
    const auto msg = replies.poll(100ms);
    if (!msg || msg->err) continue;
    ASSERT_EQ(bus::find_header(msg.get(), bus::kHeaderBundle),
              std::optional<std::string_view>("2"));
    const auto opened =
        bus::envelope_sealer(kafka, {"population"})
            ->open(bus::reply_context(bus::format_reply_to({topics.replies(), 0}), "2"),
                   bus::payload(msg.get()));
    ASSERT_TRUE(opened) << "reply not sealed with the population key for partition 0";
    answered = bus::decode_reply_bundle(opened->plaintext);
    ASSERT_TRUE(answered) << "reply is not a ReplyBundle";
  }
  ASSERT_TRUE(answered) << "no reply within 20 s";
  ASSERT_EQ(answered->replies_size(), 2);
  std::map<std::string, const v1::Reply*> by_id;
  for (const auto& r : answered->replies()) by_id[r.request_id()] = &r;
  ASSERT_TRUE(by_id.count("b-match"));
  ASSERT_TRUE(by_id.count("b-mismatch"));
  EXPECT_EQ(by_id.count("b-expired"), 0U);
  EXPECT_TRUE(by_id["b-match"]->verify().match());
  EXPECT_FALSE(by_id["b-mismatch"]->verify().match());
  EXPECT_TRUE(by_id["b-mismatch"]->verify().subject_found());

  const auto counted = Clock::now() + 5s;
  const std::string expired =
      R"(lgsp_connector_requests_total{outcome="expired",registry="population"})";
  while (metric_value(stack.admin_port(), expired) < 1 && Clock::now() < counted)
    std::this_thread::sleep_for(20ms);
  EXPECT_EQ(metric_value(stack.admin_port(), expired), 1);
}

TEST(Bundles, AReplyThatCannotBeProducedCountsEveryRequestOfItsBundle) {
  TestStack stack({.message_timeout_ms = 1500});
  const bus::Topics topics{stack.cfg.kafka.topic_prefix};
  bus::Producer producer(bus::producer_properties(stack.cfg.kafka, stack.bootstrap, "it-bundle"),
                         bus::Producer::Polling::kBackground);
  const auto subjects = stack.subjects(3);
  v1::RequestBundle bundle;
  for (std::size_t i = 0; i < 3; ++i)
    add_verify(bundle, "lost-" + std::to_string(i), subjects[i], subjects[i].full_name,
               unix_ms_in(30s));
  // Reply partition 0 (the stack's gateway reads 1) has no leader: the connector answers,
  // and cannot deliver it within message.timeout.ms.
  stack.cluster->set_partition_leader(topics.replies(), 0, -1);
  ASSERT_NO_FATAL_FAILURE(publish_bundle(stack, producer, bundle, 0));

  const std::string failed =
      R"(lgsp_connector_requests_total{outcome="reply_failed",registry="population"})";
  const auto until = Clock::now() + 20s;
  while (metric_value(stack.admin_port(), failed) < 3 && Clock::now() < until)
    std::this_thread::sleep_for(20ms);
  EXPECT_EQ(metric_value(stack.admin_port(), failed), 3)
      << "one count per request, not per message";
  stack.cluster->set_partition_leader(topics.replies(), 0, 1);
  // The connector goes on: a verify through the gateway still gets its answer.
  const auto r = post_json(stack.api_port(), "/v1/population/verify",
                           json::serialize(json::object{{"purpose", "bundle-test"},
                                                        {"citizen_id", subjects[0].citizen_id},
                                                        {"full_name", subjects[0].full_name}}),
                           kMinistryKey);
  EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace
}  // namespace lgsp::testing
