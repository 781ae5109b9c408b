#include "gateway/audit_publisher.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bus/consumer.hpp"
#include "bus/embedded_cluster.hpp"
#include "bus/envelope.hpp"
#include "bus/producer.hpp"
#include "gateway/gateway_probe.hpp"
#include "observability/metrics.hpp"

namespace lgsp::gateway {
namespace {

using namespace std::chrono_literals;

constexpr const char* kTopic = "test.audit";

/// Every event on the topic, in partition order.
std::vector<bus::v1::AuditEvent> read_all(const std::string& bootstraps, std::size_t expected) {
  bus::Consumer consumer({{"bootstrap.servers", bootstraps}}, "audit-publisher-test");
  consumer.assign(kTopic, 0, 0);
  std::vector<bus::v1::AuditEvent> out;
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (out.size() < expected && std::chrono::steady_clock::now() < until) {
    const auto m = consumer.poll(200ms);
    if (!m || m->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    auto e =
        bus::decode_audit_event(std::string_view(static_cast<const char*>(m->payload), m->len));
    EXPECT_TRUE(e.has_value()) << "an undecodable event at offset " << m->offset;
    if (e) out.push_back(std::move(*e));
  }
  consumer.close();
  return out;
}

// Callers from several threads only queue; the publisher's own thread numbers the events.
// The trail must see one gap-free sequence in the order the producer got them, every caller
// learns its event is durable, and flush() returns only once all of it is acknowledged.
TEST(AuditPublisher, EventsFromManyThreadsAreNumberedWithoutGapsInTopicOrder) {
  bus::EmbeddedCluster cluster(1);
  cluster.create_topic(kTopic, 1);
  obs::Metrics metrics("test");
  GatewayProbe probe(metrics);
  bus::Producer producer({{"bootstrap.servers", cluster.bootstraps()},
                          {"acks", "all"},
                          {"enable.idempotence", "true"}},
                         bus::Producer::Polling::kBackground);
  constexpr int kThreads = 4;
  constexpr int kEach = 250;
  std::atomic<int> durable{0};
  std::atomic<int> lost{0};
  {
    AuditPublisherOptions options;
    options.source = "gateway-test";
    AuditPublisher publisher(producer, kTopic, probe, options);
    publisher.start();
    std::vector<std::jthread> callers;
    for (int t = 0; t < kThreads; ++t) {
      callers.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          bus::v1::AuditEvent e;
          e.set_event_id("ev-" + std::to_string(t) + "-" + std::to_string(i));
          e.set_request_id("req-" + std::to_string(t) + "-" + std::to_string(i));
          publisher.send(std::move(e), [&](bool ok) { (ok ? durable : lost).fetch_add(1); });
        }
      });
    }
    callers.clear();  // joined
    ASSERT_TRUE(publisher.flush(15s));
    EXPECT_EQ(durable.load(), kThreads * kEach);
    EXPECT_EQ(lost.load(), 0);
    EXPECT_EQ(publisher.undelivered(), 0);
  }
  const auto events = read_all(cluster.bootstraps(), kThreads * kEach);
  ASSERT_EQ(events.size(), static_cast<std::size_t>(kThreads * kEach));
  std::map<std::string, int> next_of_caller;  // each caller's own order is kept too
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].source(), "gateway-test");
    EXPECT_EQ(events[i].source_seq(), static_cast<std::int64_t>(i + 1));
    const std::string& id = events[i].event_id();
    const auto dash = id.rfind('-');
    const std::string caller = id.substr(0, dash);
    EXPECT_EQ(std::stoi(id.substr(dash + 1)), next_of_caller[caller]++) << id;
  }
}

// async_record completes on the caller's executor with true once the event is acknowledged,
// and with false when it is not within the delivery timeout (here: no cluster at all).
TEST(AuditPublisher, AsyncRecordReportsDurabilityOnTheCallersExecutor) {
  obs::Metrics metrics("test");
  GatewayProbe probe(metrics);
  boost::asio::io_context io;
  const auto record = [&](bus::Producer& producer, std::chrono::milliseconds timeout) {
    AuditPublisherOptions options;
    options.delivery_timeout = timeout;
    options.source = "gateway-test";
    AuditPublisher publisher(producer, kTopic, probe, options);
    std::optional<bool> got;
    std::thread::id ran_on;
    bus::v1::AuditEvent e;
    e.set_event_id("ev-1");
    publisher.async_record(e, boost::asio::bind_executor(io, [&](bool durable) {
                             got = durable;
                             ran_on = std::this_thread::get_id();
                           }));
    io.restart();
    const auto until = std::chrono::steady_clock::now() + timeout + 10s;
    while (!got && std::chrono::steady_clock::now() < until) io.run_for(50ms);
    EXPECT_EQ(ran_on, std::this_thread::get_id());
    // The producer's delivery report (acknowledged, or failed by message.timeout.ms) comes
    // before the publisher goes: its callback refers to the publisher.
    publisher.flush(5s);
    return got;
  };
  {
    bus::EmbeddedCluster cluster(1);
    cluster.create_topic(kTopic, 1);
    bus::Producer producer({{"bootstrap.servers", cluster.bootstraps()}, {"acks", "all"}},
                           bus::Producer::Polling::kBackground);
    EXPECT_EQ(record(producer, 10s), std::optional<bool>(true));
  }
  // Nothing listens on port 1: the event is never acknowledged, the answer is refused.
  bus::Producer nowhere({{"bootstrap.servers", "127.0.0.1:1"}, {"message.timeout.ms", "1000"}},
                        bus::Producer::Polling::kBackground);
  EXPECT_EQ(record(nowhere, 300ms), std::optional<bool>(false));
}

}  // namespace
}  // namespace lgsp::gateway
