// Faults under load (issue 6): the bus's broker goes away and comes back, a registry stops
// answering, clients misbehave (slowloris, idle connections, oversized and pipelined
// requests, a connection flood to the descriptor limit), and the gateway stops while
// exchanges are in flight. Each test asserts the gateway keeps its promises: answers fail
// fast within their deadline, nothing wrong is ever answered, others keep being served, and
// the service recovers by itself.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "app/commands.hpp"
#include "audit/chain.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/stack.hpp"
#include "util/signing.hpp"

namespace lgsp::testing {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string verify_body(const domain::CitizenRecord& s, bool right_name) {
  return json::serialize(json::object{{"citizen_id", s.citizen_id},
                                      {"full_name", right_name ? s.full_name : "Nobody At All"},
                                      {"purpose", "fault-test"}});
}

std::int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

/// One answered request of a load run.
struct Outcome {
  Clock::time_point sent;
  std::int64_t took_ms = 0;
  int status = 0;
  bool right_name = false;
  bool match = false;
  std::string request_id;
  std::string problem;  // the problem type's last segment, for a refusal
};

/// Verify requests from `threads` clients until stopped, half with the right name, half
/// with a wrong one, so a wrong answer (a match for the wrong name or the reverse) shows.
class Load {
 public:
  Load(std::uint16_t port, std::vector<domain::CitizenRecord> subjects, int threads)
      : port_(port), subjects_(std::move(subjects)) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, t] {
        for (std::size_t i = static_cast<std::size_t>(t); !stop_; i += 7) {
          const auto& s = subjects_[i % subjects_.size()];
          const bool right = i % 2 == 0;
          Outcome o{Clock::now(), 0, 0, right, false, {}, {}};
          try {
            const auto r =
                post_json(port_, "/v1/population/verify", verify_body(s, right), kMinistryKey);
            o.status = r.status;
            o.request_id = r.header("x-request-id");
            if (r.status == 200) o.match = r.json().at("match").as_bool();
            if (r.status >= 400) {
              const std::string type(r.json().at("type").as_string());
              o.problem = type.substr(type.rfind(':') + 1);
            }
          } catch (const std::exception&) {
            o.status = -1;  // no answer at all
          }
          o.took_ms = ms_since(o.sent);
          std::lock_guard lock(mu_);
          outcomes_.push_back(o);
        }
      });
    }
  }
  ~Load() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  std::vector<Outcome> outcomes() {
    std::lock_guard lock(mu_);
    return outcomes_;
  }

 private:
  std::uint16_t port_;
  std::vector<domain::CitizenRecord> subjects_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Outcome> outcomes_;
  std::vector<std::thread> threads_;
};

/// Waits (up to `limit`) until 10 requests in a row sent after `since` were answered 200;
/// returns how long after `since` the first of them was sent, or -1.
std::int64_t recovered_after(Load& load, Clock::time_point since, std::chrono::seconds limit) {
  while (Clock::now() - since < limit) {
    std::this_thread::sleep_for(200ms);
    int ok_in_a_row = 0;
    for (const auto& o : load.outcomes()) {
      if (o.sent < since) continue;
      ok_in_a_row = o.status == 200 ? ok_in_a_row + 1 : 0;
      if (ok_in_a_row == 10) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(o.sent - since).count();
      }
    }
  }
  return -1;
}

TEST(Faults, BrokerLossFailsFastNeverWrongAndRecoversByItself) {
  constexpr std::int64_t kDeadlineMs = 1000;
  // The audit acknowledgement is waited for within the same bound: with the broker down, an
  // answer must not wait the test stacks' generous 10 s for it either.
  TestStack stack({.deadline_ms = kDeadlineMs, .audit_delivery_timeout_ms = kDeadlineMs});
  Load load(stack.api_port(), stack.subjects(50), 4);
  std::this_thread::sleep_for(1500ms);
  const auto down_at = Clock::now();
  stack.cluster->set_broker_up(1, false);
  std::this_thread::sleep_for(4s);
  stack.cluster->set_broker_up(1, true);
  const auto up_at = Clock::now();
  // Recovered: ten answers in a row sent after the broker came back are 200.
  const std::int64_t recovered_after_ms = recovered_after(load, up_at, 40s);
  load.stop();
  const auto all = load.outcomes();

  int before = 0, during_failed = 0, wrong = 0, slow = 0, unanswered = 0, odd_status = 0;
  for (const auto& o : all) {
    if (o.status == 200 && o.match != o.right_name) ++wrong;
    if (o.status == -1) ++unanswered;
    if (o.status != 200 && o.status != 503 && o.status != 504 && o.status != -1) ++odd_status;
    // Fail fast: nobody waits much beyond the deadline, broker or not.
    if (o.took_ms > kDeadlineMs + 1500) ++slow;
    if (o.sent < down_at && o.status == 200) ++before;
    if (o.sent >= down_at + 200ms && o.sent < up_at && o.status != 200) ++during_failed;
  }
  std::cout << "[ fault    ] broker loss: " << all.size() << " requests, " << before
            << " ok before, " << during_failed << " failed during the outage, recovered "
            << recovered_after_ms << " ms after the broker came back\n";
  EXPECT_GT(before, 10) << "the load never ran before the outage";
  EXPECT_GT(during_failed, 0) << "the outage was not felt";
  EXPECT_EQ(wrong, 0) << "a verify answered the wrong match";
  EXPECT_EQ(unanswered, 0) << "connections dropped without an answer";
  EXPECT_EQ(odd_status, 0) << "answers other than 200, 503 or 504";
  EXPECT_EQ(slow, 0) << "answers later than the deadline + 1.5 s";
  EXPECT_GE(recovered_after_ms, 0) << "no recovery within 40 s of the broker coming back";
}

// The audit topic's partition loses its leader while the request topics work: answers that
// would release data must not go out without a durable audit record, refusals come fast once
// the backlog is over its bound, and when the topic is back every event is in the chain.
TEST(Faults, AuditTopicDownReleasesNoDataAndLosesNoEvent) {
  constexpr std::int64_t kAuditTimeoutMs = 800;
  TestStack stack(
      {.audit_delivery_timeout_ms = kAuditTimeoutMs, .audit_yaml = "  max_undelivered: 10"});
  const std::string audit_topic = bus::Topics{stack.cfg.kafka.topic_prefix}.audit();
  Load load(stack.api_port(), stack.subjects(50), 4);
  std::this_thread::sleep_for(1500ms);
  const auto down_at = Clock::now();
  stack.cluster->set_partition_leader(audit_topic, 0, -1);
  std::this_thread::sleep_for(4s);
  stack.cluster->set_partition_leader(audit_topic, 0, 1);
  const auto up_at = Clock::now();
  const std::int64_t recovered_ms = recovered_after(load, up_at, 40s);
  load.stop();
  const auto all = load.outcomes();

  int before = 0, released = 0, refused = 0, refused_fast = 0, wrong = 0, odd = 0;
  std::int64_t answered = 0;
  for (const auto& o : all) {
    if (o.status > 0) ++answered;
    if (o.status == 200 && o.match != o.right_name) ++wrong;
    if (o.status != 200 && !(o.status == 503 && o.problem == "audit-unavailable")) ++odd;
    if (o.sent < down_at && o.status == 200) ++before;
    // Sent after the leader went and answered before it came back: no event could have been
    // acknowledged meanwhile, so no such answer may carry data.
    const bool in_outage =
        o.sent >= down_at + 50ms && o.sent + std::chrono::milliseconds(o.took_ms) < up_at;
    if (!in_outage) continue;
    if (o.status == 200) ++released;
    if (o.status == 503) {
      ++refused;
      if (o.took_ms < kAuditTimeoutMs / 2) ++refused_fast;
    }
  }
  std::cout << "[ fault    ] audit topic down: " << all.size() << " requests, " << before
            << " ok before, " << refused << " refused during the outage (" << refused_fast
            << " up front), recovered " << recovered_ms << " ms after the topic came back\n";
  EXPECT_GT(before, 10) << "the load never ran before the outage";
  EXPECT_EQ(released, 0) << "data released while no audit event could be acknowledged";
  EXPECT_GT(refused, 0) << "the outage was not felt";
  EXPECT_GT(refused_fast, 0) << "no request was refused up front once the backlog was full";
  EXPECT_EQ(wrong, 0) << "a verify answered the wrong match";
  EXPECT_EQ(odd, 0) << "answers other than 200 or 503 audit-unavailable";
  EXPECT_GE(recovered_ms, 0) << "no recovery within 40 s of the topic coming back";

  // Nothing lost: every answered request, refused or not, reaches the chain, and each
  // gateway event sequence is complete.
  EXPECT_GE(stack.wait_for_audit(answered), answered);
  std::set<std::string> chained;
  const auto store = app::open_audit_store(stack.cfg);
  store->scan([&](const audit::AuditRecord& r) { chained.insert(r.request_id); });
  int missing = 0;
  for (const auto& o : all) {
    if (o.status > 0 && chained.count(o.request_id) == 0) ++missing;
  }
  EXPECT_EQ(missing, 0) << "answered requests without an audit record";
  // Against the writer's signature too: every append was signed, none left unsigned.
  const util::Ed25519Verifier key(stack.cfg.audit.verify_key);
  const auto report = audit::verify_chain(*store, {}, &key);
  EXPECT_TRUE(report.ok) << report.problem;
}

/// `text` with the first `from` after `after` replaced by `to`.
std::string replaced_after(std::string text, const std::string& after, const std::string& from,
                           const std::string& to) {
  const auto at = text.find(from, text.find(after));
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

/// `lgsp gateway` as its own process on the stack's cluster, registries and audit trail,
/// holding reply partition 0 (the stack's own gateway holds 1); ready when constructed.
class GatewayProcess {
 public:
  GatewayProcess(const TestStack& stack, const std::string& name)
      : api_(free_port()), admin_(free_port()), child_(start(stack, name)) {
    const auto until = Clock::now() + 30s;
    while (Clock::now() < until && !ready()) std::this_thread::sleep_for(100ms);
    if (!ready()) throw std::runtime_error(name + " never became ready: " + child_.log_text());
  }
  std::uint16_t api_port() const { return api_; }
  void kill_hard() { child_.kill_hard(); }
  /// The soft and hard "Max core file size" of /proc/PID/limits, e.g. "0 unlimited".
  std::string core_limit() const {
    std::ifstream in("/proc/" + std::to_string(child_.pid()) + "/limits");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("Max core file size", 0) != 0) continue;
      std::istringstream words(line.substr(18));
      std::string soft, hard;
      words >> soft >> hard;
      return soft + " " + hard;
    }
    return {};
  }

 private:
  ChildProcess start(const TestStack& stack, const std::string& name) const {
    std::stringstream text;
    text << std::ifstream(stack.write_process_config()).rdbuf();
    std::string yaml = replaced_after(text.str(), "gateway:", "listen: 127.0.0.1:0",
                                      "listen: 127.0.0.1:" + std::to_string(api_));
    yaml = replaced_after(yaml, "gateway:", "admin_listen: 127.0.0.1:0",
                          "admin_listen: 127.0.0.1:" + std::to_string(admin_));
    yaml = replaced_after(yaml, "gateway:", "instance: 1", "instance: 0");
    const auto config = stack.dir / (name + ".yaml");
    std::ofstream(config) << yaml;
    return ChildProcess({"gateway", "--config", config.string()}, stack.dir / (name + ".log"));
  }
  bool ready() const {
    try {
      return http_call(admin_, "GET", "/readyz").status == 200;
    } catch (const std::exception&) {
      return false;
    }
  }

  std::uint16_t api_;
  std::uint16_t admin_;
  ChildProcess child_;
};

/// What a load run against a gateway that was SIGKILLed left behind.
struct KillOutcome {
  std::vector<Outcome> all;
  std::int64_t ok = 0, ok_last_100ms = 0, cut = 0, wrong = 0;
};

/// 8 clients load `gateway` for `load_for`; `before_kill` runs, then SIGKILL.
KillOutcome kill_under_load(const TestStack& stack, GatewayProcess& gateway,
                            std::chrono::milliseconds load_for,
                            const std::function<void()>& before_kill) {
  Load load(gateway.api_port(), stack.subjects(50), 8);
  std::this_thread::sleep_for(load_for);
  before_kill();
  const auto killed_at = Clock::now();
  gateway.kill_hard();
  std::this_thread::sleep_for(300ms);
  load.stop();
  KillOutcome k{load.outcomes()};
  for (const auto& o : k.all) {
    if (o.status == 200) ++k.ok;
    if (o.status == -1) ++k.cut;
    if (o.status == 200 && o.match != o.right_name) ++k.wrong;
    if (o.status == 200 && o.sent + std::chrono::milliseconds(o.took_ms) > killed_at - 100ms)
      ++k.ok_last_100ms;
  }
  return k;
}

// SIGKILL during load: a gateway process killed while 8 clients hammer it loses no
// accountability. Every request it answered 200 has its event in the chain (nothing was
// released before its event was acknowledged), and each process's event sequence has no gap
// (what died in its queue is the unanswered tail). Twice: under plain load, where the
// window between queueing an event and its acknowledgement is about a millisecond, and
// while the audit partition has no leader for the last 600 ms, where events queue for
// longer. On 293675d (answers released once queued) the second kill leaves answered
// requests without an audit record.
TEST(Faults, GatewayKilledUnderLoadLeftNoAnsweredRequestUnaudited) {
  TestStack stack({.audit_delivery_timeout_ms = 2000});
  const std::string audit_topic = bus::Topics{stack.cfg.kafka.topic_prefix}.audit();
  std::vector<Outcome> all;
  std::int64_t ok = 0;
  for (const bool audit_lags : {false, true}) {
    GatewayProcess gateway(stack, audit_lags ? "gateway-lagging" : "gateway-plain");
    // It holds the subject key: a crash must leave no core file (fails on 293675d).
    EXPECT_EQ(gateway.core_limit(), "0 0");
    const auto k = kill_under_load(stack, gateway, 2s, [&] {
      if (!audit_lags) return;
      stack.cluster->set_partition_leader(audit_topic, 0, -1);
      std::this_thread::sleep_for(600ms);
    });
    if (audit_lags) stack.cluster->set_partition_leader(audit_topic, 0, 1);
    std::cout << "[ fault    ] gateway SIGKILL under load" << (audit_lags ? ", audit lagging" : "")
              << ": " << k.all.size() << " requests, " << k.ok << " answered 200 ("
              << k.ok_last_100ms << " in its last 100 ms), " << k.cut << " cut off\n";
    EXPECT_GT(k.ok, 50) << "the load never ran";
    EXPECT_GT(k.cut, 0) << "the kill was not felt";
    EXPECT_EQ(k.wrong, 0);
    if (!audit_lags) {
      EXPECT_GT(k.ok_last_100ms, 0) << "the gateway was not answering when killed";
    }
    ok += k.ok;
    all.insert(all.end(), k.all.begin(), k.all.end());
  }

  // The writer may still be consuming what the dead gateways had delivered: the count alone
  // says too little (events of requests cut off count too), so wait for the answered ones.
  std::int64_t chained_count = stack.wait_for_audit(ok);
  const auto store = app::open_audit_store(stack.cfg);
  std::int64_t missing = 0;
  for (const auto until = std::chrono::steady_clock::now() + 15s;;) {
    std::set<std::string> chained;
    store->scan([&](const audit::AuditRecord& r) { chained.insert(r.request_id); });
    chained_count = static_cast<std::int64_t>(chained.size());
    missing = 0;
    for (const auto& o : all) {
      if (o.status == 200 && chained.count(o.request_id) == 0) ++missing;
    }
    if (missing == 0 || std::chrono::steady_clock::now() > until) break;
    std::this_thread::sleep_for(200ms);
  }
  std::cout << "[ fault    ] " << chained_count << " events in the chain, " << missing
            << " answered 200 without one\n";
  EXPECT_EQ(missing, 0) << "answered requests without an audit record";
  // Against the writer's signature too: every append was signed, none left unsigned.
  const util::Ed25519Verifier key(stack.cfg.audit.verify_key);
  const auto report = audit::verify_chain(*store, {}, &key);
  EXPECT_TRUE(report.ok) << report.problem;
}

TEST(Faults, StuckRegistryShedsLoadAtThePendingLimitWithinDeadlines) {
  constexpr std::int64_t kDeadlineMs = 1500;
  TestStack stack({.deadline_ms = kDeadlineMs, .gateway_yaml = "  max_pending: 10"});
  const auto subjects = stack.subjects(40);
  ASSERT_EQ(post_json(stack.api_port(), "/v1/population/verify", verify_body(subjects[0], true),
                      kMinistryKey)
                .status,
            200);
  stack.stop_connector("population");  // the registry stops answering

  std::vector<std::future<std::pair<int, std::int64_t>>> calls;
  calls.reserve(subjects.size());
  for (const auto& s : subjects) {
    calls.push_back(std::async(std::launch::async, [&stack, s] {
      const auto t = Clock::now();
      const auto r =
          post_json(stack.api_port(), "/v1/population/verify", verify_body(s, true), kMinistryKey);
      return std::pair{r.status, ms_since(t)};
    }));
  }
  double max_pending = 0;
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(100ms);
    const auto m = http_call(stack.admin_port(), "GET", "/metrics").body;
    const auto at = m.find("\nlgsp_gateway_pending_exchanges ");
    ASSERT_NE(at, std::string::npos);
    max_pending = std::max(max_pending, std::stod(m.substr(at + 32)));
  }
  int timeouts = 0, shed = 0, other = 0;
  for (auto& c : calls) {
    const auto [status, took] = c.get();
    if (status == 504) {
      ++timeouts;
      EXPECT_GE(took, kDeadlineMs - 50);
      EXPECT_LT(took, kDeadlineMs + 1000);
    } else if (status == 503) {
      ++shed;
      EXPECT_LT(took, 1000) << "shedding must not wait for the deadline";
    } else {
      ++other;
    }
  }
  std::cout << "[ fault    ] stuck registry: " << timeouts << " timed out (504), " << shed
            << " shed (503), pending peaked at " << max_pending << "\n";
  EXPECT_EQ(other, 0);
  EXPECT_LE(timeouts, 10) << "more exchanges were pending than max_pending allows";
  EXPECT_GT(shed, 0) << "nothing was shed at the pending limit";
  EXPECT_LE(max_pending, 10);

  // The registry comes back: new requests are answered again.
  stack.start_connector("population");
  const auto r = post_json(stack.api_port(), "/v1/population/verify",
                           verify_body(subjects[1], true), kMinistryKey);
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST(Faults, SlowlorisAndIdleConnectionsDoNotStarveOthers) {
  TestStack stack({.gateway_yaml = "  read_timeout_ms: 500\n  idle_timeout_ms: 1500"});
  const auto subject = stack.subjects(1).at(0);
  asio::io_context ioc;
  const tcp::endpoint api(asio::ip::make_address("127.0.0.1"), stack.api_port());

  std::vector<std::unique_ptr<tcp::socket>> idle, slow;
  for (int i = 0; i < 100; ++i) {
    idle.push_back(std::make_unique<tcp::socket>(ioc));
    idle.back()->connect(api);
  }
  for (int i = 0; i < 50; ++i) {
    slow.push_back(std::make_unique<tcp::socket>(ioc));
    slow.back()->connect(api);
    asio::write(*slow.back(), asio::buffer(std::string("POST /v1/population/verify HTTP/1.1\r\n")));
  }
  // Slowloris: one more header byte every 100 ms, never finishing the headers.
  std::atomic<bool> stop{false};
  std::thread dribble([&] {
    while (!stop) {
      for (auto& s : slow) {
        boost::system::error_code ignored;
        asio::write(*s, asio::buffer("X", 1), ignored);
      }
      std::this_thread::sleep_for(100ms);
    }
  });
  // Everyone else is served promptly meanwhile.
  for (int i = 0; i < 20; ++i) {
    const auto t = Clock::now();
    const auto r = post_json(stack.api_port(), "/v1/population/verify", verify_body(subject, true),
                             kMinistryKey);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_LT(ms_since(t), 1000);
  }
  std::this_thread::sleep_for(600ms);
  stop = true;
  dribble.join();
  // Each slowloris connection was told 408 once its read timeout passed, then closed.
  int told_408 = 0;
  for (auto& s : slow) {
    // Bounded: a connection the server never closes fails the test instead of hanging it.
    const timeval five_seconds{5, 0};
    ::setsockopt(s->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &five_seconds, sizeof five_seconds);
    std::string got;
    boost::system::error_code ec;
    std::array<char, 4096> buf{};
    for (;;) {
      const std::size_t n = s->read_some(asio::buffer(buf), ec);
      got.append(buf.data(), n);
      if (ec) break;
    }
    if (got.rfind("HTTP/1.1 408", 0) == 0) ++told_408;
  }
  EXPECT_EQ(told_408, 50);
  // Idle connections are closed after idle_timeout_ms.
  std::this_thread::sleep_for(1200ms);
  int closed = 0;
  for (auto& s : idle) {
    std::array<char, 64> buf{};
    boost::system::error_code ec;
    s->non_blocking(true);
    s->read_some(asio::buffer(buf), ec);
    if (ec == asio::error::eof || ec == asio::error::connection_reset) ++closed;
  }
  EXPECT_EQ(closed, 100);
}

TEST(Faults, OversizedAndPipelinedRequests) {
  TestStack stack;
  const auto subjects = stack.subjects(2);
  const std::string auth = std::string("Authorization: Bearer ") + kMinistryKey + "\r\n";
  const auto request = [&](const std::string& body, bool close) {
    return "POST /v1/population/verify HTTP/1.1\r\nHost: t\r\n" + auth +
           "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n" + body;
  };
  const std::string big_header =
      "POST /v1/population/verify HTTP/1.1\r\nHost: t\r\nX-Pad: " + std::string(20000, 'p') +
      "\r\n\r\n";
  EXPECT_EQ(raw_exchange(stack.api_port(), big_header).substr(0, 12), "HTTP/1.1 431");
  const std::string big_body = request(std::string(20000, ' ') + "{}", false);
  EXPECT_EQ(raw_exchange(stack.api_port(), big_body).substr(0, 12), "HTTP/1.1 413");

  // Three requests in one write: three answers, in order.
  const std::string pipelined = request(verify_body(subjects[0], true), false) +
                                request(verify_body(subjects[1], false), false) +
                                request(verify_body(subjects[1], true), true);
  const std::string out = raw_exchange(stack.api_port(), pipelined);
  std::vector<std::string> matches;
  for (std::size_t pos = 0; (pos = out.find("\"match\":", pos)) != std::string::npos; ++pos)
    matches.push_back(out.substr(pos + 8, 4));
  ASSERT_EQ(matches.size(), 3U) << out;
  EXPECT_EQ(matches[0], "true");
  EXPECT_EQ(matches[1], "fals");
  EXPECT_EQ(matches[2], "true");
  // And the gateway still serves a normal request.
  EXPECT_EQ(post_json(stack.api_port(), "/v1/population/verify", verify_body(subjects[0], true),
                      kMinistryKey)
                .status,
            200);
}

TEST(Faults, ConnectionFloodToTheDescriptorLimitThenRecovery) {
  TestStack stack;
  const auto subject = stack.subjects(1).at(0);
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  std::size_t open_now = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
    ++open_now;
  // This process holds both ends (the test's sockets and the gateway's), so the flood
  // reaches the limit on both sides.
  rlimit low = old;
  low.rlim_cur = std::min<rlim_t>(old.rlim_cur, open_now + 400);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);

  asio::io_context ioc;
  const tcp::endpoint api(asio::ip::make_address("127.0.0.1"), stack.api_port());
  std::vector<std::unique_ptr<tcp::socket>> flood;
  for (int i = 0; i < 2000; ++i) {
    auto s = std::make_unique<tcp::socket>(ioc);
    boost::system::error_code ec;
    s->connect(api, ec);
    if (ec) break;
    flood.push_back(std::move(s));
  }
  std::this_thread::sleep_for(500ms);  // the acceptor hits EMFILE and backs off meanwhile
  const std::size_t flooded = flood.size();
  flood.clear();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
  std::cout << "[ fault    ] flood: " << flooded << " connections up to the descriptor limit\n";
  EXPECT_GT(flooded, 100U);
  EXPECT_LT(flooded, 2000U) << "the limit was never reached";

  // Served again once the flood is gone (the acceptor retries after its back-off).
  int status = 0;
  for (int attempt = 0; attempt < 50 && status != 200; ++attempt) {
    try {
      status = post_json(stack.api_port(), "/v1/population/verify", verify_body(subject, true),
                         kMinistryKey)
                   .status;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(100ms);
    }
  }
  EXPECT_EQ(status, 200);
}

TEST(Faults, GracefulStopFinishesExchangesInFlight) {
  TestStack stack({.deadline_ms = 10000});
  const auto subjects = stack.subjects(5);
  stack.stop_connector("population");  // requests will wait on the bus
  std::vector<std::future<HttpResult>> calls;
  calls.reserve(subjects.size());
  for (const auto& s : subjects) {
    calls.push_back(std::async(std::launch::async, [&stack, s] {
      return post_json(stack.api_port(), "/v1/population/verify", verify_body(s, true),
                       kMinistryKey);
    }));
  }
  std::this_thread::sleep_for(300ms);  // all five are pending exchanges now
  const auto port = stack.api_port();
  std::thread stopper([&] { stack.gateway->stop(); });
  std::this_thread::sleep_for(300ms);
  // New connections are refused while the stop waits for the exchanges in flight...
  EXPECT_THROW(http_call(port, "GET", "/"), std::exception);
  // ...which finish once the registry answers.
  stack.start_connector("population");
  for (auto& c : calls) {
    const auto r = c.get();
    EXPECT_EQ(r.status, 200) << r.body;
  }
  stopper.join();
}

}  // namespace
}  // namespace lgsp::testing
