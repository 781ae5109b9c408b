// The bus ceiling for bench/compare.sh: raw request-reply over the embedded Kafka-protocol
// cluster with our bus code (bus::Producer, bus::Consumer, the same client settings as
// config/dev.yaml) and nothing else: a requester keeps WINDOW requests in flight to a
// 4-partition request topic, a responder (one consumer-group member, like a connector)
// echoes each to the reply partition, the requester matches replies (like the gateway's
// reply thread). Prints round trips/s and latency percentiles.
//   lgsp_bus_ceiling [SECONDS] [WINDOW]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bus/consumer.hpp"
#include "bus/embedded_cluster.hpp"
#include "bus/producer.hpp"

using namespace lgsp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 10;
  const int window = argc > 2 ? std::atoi(argv[2]) : 64;
  bus::EmbeddedCluster cluster(1);
  cluster.create_topic("ceiling.requests", 4);
  cluster.create_topic("ceiling.replies", 1);
  const std::string b = cluster.bootstraps();
  const bus::Properties common{{"bootstrap.servers", b}, {"socket.nagle.disable", "true"}};
  bus::Properties producer = common;
  producer.insert(producer.end(),
                  {{"linger.ms", "1"}, {"enable.idempotence", "true"}, {"acks", "all"}});
  bus::Properties consumer = common;
  consumer.insert(consumer.end(), {{"fetch.wait.max.ms", "1"},
                                   {"fetch.error.backoff.ms", "10"},
                                   {"auto.offset.reset", "earliest"},
                                   {"session.timeout.ms", "6000"},
                                   {"heartbeat.interval.ms", "1000"}});

  // Extra client settings to try, e.g. CEILING_PRODUCER="linger.ms=0;acks=1" (later wins).
  const auto extra = [](const char* env, bus::Properties& into) {
    const char* v = std::getenv(env);  // NOLINT(concurrency-mt-unsafe): no thread runs yet
    for (std::string rest = v != nullptr ? v : ""; !rest.empty();) {
      const auto end = rest.find(';');
      const std::string kv = rest.substr(0, end);
      if (const auto eq = kv.find('='); eq != std::string::npos)
        into.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
      rest = end == std::string::npos ? "" : rest.substr(end + 1);
    }
  };
  extra("CEILING_PRODUCER", producer);
  extra("CEILING_CONSUMER", consumer);

  std::atomic<bool> stop{false};
  std::atomic<bool> responder_ready{false};
  std::thread responder([&] {
    bus::Consumer in(consumer, "ceiling-responders");
    bus::Producer out(producer, bus::Producer::Polling::kByOwner);
    (void)out.learn_topic("ceiling.replies");
    in.subscribe({"ceiling.requests"});
    while (!stop) {
      responder_ready = in.joined();
      out.poll(0ms);
      bus::MessagePtr m = in.poll(50ms);
      if (!m || m->err) continue;
      const std::string_view key(static_cast<const char*>(m->key), m->key_len);
      const std::string_view value(static_cast<const char*>(m->payload), m->len);
      while (
          out.produce("ceiling.replies", 0, key, value, {}, [](rd_kafka_resp_err_t) {}).value() ==
          RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        out.poll(1ms);
      }
    }
    out.flush(2s);
  });

  bus::Producer requests(producer, bus::Producer::Polling::kBackground);
  (void)requests.learn_topic("ceiling.requests");
  bus::Consumer replies(consumer, "ceiling-requester");
  replies.assign("ceiling.replies", 0, RD_KAFKA_OFFSET_END);
  while (!responder_ready) std::this_thread::sleep_for(50ms);

  const std::string payload(120, 'x');  // about the size of a verify envelope
  std::unordered_map<std::string, Clock::time_point> in_flight;
  std::vector<double> latencies_ms;
  std::uint64_t next = 0;
  const auto warm_until = Clock::now() + 2s;
  const auto end = warm_until + std::chrono::duration<double>(seconds);
  std::uint64_t done = 0;
  while (Clock::now() < end) {
    while (static_cast<int>(in_flight.size()) < window) {
      const std::string id = std::to_string(next++);
      in_flight.emplace(id, Clock::now());
      (void)requests.produce("ceiling.requests", -1, id, payload, {}, [](rd_kafka_resp_err_t) {});
    }
    bus::MessagePtr m = replies.poll(1ms);
    if (!m || m->err) continue;
    const std::string id(static_cast<const char*>(m->key), m->key_len);
    const auto it = in_flight.find(id);
    if (it == in_flight.end()) continue;
    const auto now = Clock::now();
    if (now > warm_until) {
      latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
      ++done;
    }
    in_flight.erase(it);
  }
  stop = true;
  responder.join();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  const auto pct = [&](double p) {
    return latencies_ms.empty()
               ? 0.0
               : latencies_ms[std::min(
                     latencies_ms.size() - 1,
                     static_cast<std::size_t>(p * static_cast<double>(latencies_ms.size())))];
  };
  std::cout << "round_trips_per_s " << static_cast<double>(done) / seconds << "\n"
            << "p50_ms " << pct(0.5) << "\np99_ms " << pct(0.99) << "\np999_ms " << pct(0.999)
            << "\nwindow " << window << "\n";
}
