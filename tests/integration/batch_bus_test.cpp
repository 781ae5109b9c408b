// Bulk jobs' micro-batches over the real embedded Kafka cluster: a chunk published by the
// gateway's bus client to the registry's batch topic is answered item by item, in order, by
// the population connector; and a backlog of chunks never holds up interactive requests.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "bus/client_properties.hpp"
#include "gateway/bus_client.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/stack.hpp"

namespace lgsp::testing {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace v1 = bus::v1;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct CallResult {
  boost::system::error_code ec;
  v1::Reply reply;
};

std::int64_t unix_ms_in(std::chrono::milliseconds from_now) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             (std::chrono::system_clock::now() + from_now).time_since_epoch())
      .count();
}

v1::Request new_chunk(const std::string& id, std::chrono::milliseconds deadline) {
  v1::Request chunk;
  chunk.set_request_id(id);
  chunk.set_registry("population");
  chunk.set_operation(v1::OPERATION_VERIFY);
  chunk.set_partner_id("ministry");
  chunk.set_purpose("bulk-verification-test");
  chunk.set_deadline_unix_ms(unix_ms_in(deadline));
  return chunk;
}

void add_verify(v1::Request& chunk, const std::string& id, const std::string& citizen_id,
                const std::string& full_name, const std::string& date_of_birth) {
  v1::Request& item = *chunk.add_batch();
  item.set_request_id(id);
  item.set_registry(chunk.registry());
  item.set_operation(chunk.operation());
  item.set_partner_id(chunk.partner_id());
  item.set_purpose(chunk.purpose());
  item.set_deadline_unix_ms(chunk.deadline_unix_ms());
  item.set_subject_key("citizen_id");
  item.set_subject(citizen_id);
  (*item.mutable_claims())["full_name"] = full_name;
  (*item.mutable_claims())["date_of_birth"] = date_of_birth;
}

double metric(const TestStack& stack, const std::string& series) {
  return metric_value(stack.admin_port(), series);
}

std::string batch_records(const std::string& outcome) {
  return R"(lgsp_connector_batch_records_total{outcome=")" + outcome +
         R"(",registry="population"})";
}

/// One stack for the suite, and a bus client of our own beside the gateway's (reply
/// partition 0; the gateway, instance 1, has partition 1), which is what the gateway's bulk
/// job engine uses to send chunks.
class BatchBus : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = new TestStack();
    const auto& kafka = stack_->cfg.kafka;
    gateway::BusClientOptions options{bus::Topics{kafka.topic_prefix},
                                      0,
                                      bus::producer_properties(kafka, stack_->bootstrap, "it-bulk"),
                                      bus::consumer_properties(kafka, stack_->bootstrap, "it-bulk"),
                                      10000,
                                      {"population"},
                                      64,
                                      {},
                                      bus::envelope_sealer(kafka, {"population"})};
    metrics_ = new obs::Metrics("it-bulk");
    probe_ = new gateway::GatewayProbe(*metrics_);
    client_ = new gateway::BusClient(std::move(options), *probe_);
    client_->start();
    io_thread_ = std::thread([] { ioc_.run(); });
    // The batch consumer group joins on its own (a few seconds on the embedded cluster):
    // one answered chunk says it has.
    v1::Request warm_up = new_chunk("warm-up", 30s);
    const auto s = stack_->subjects(1).at(0);
    add_verify(warm_up, "w", s.citizen_id, s.full_name, s.date_of_birth);
    auto answered = call(std::move(warm_up), 30s);
    ASSERT_EQ(answered.wait_for(30s), std::future_status::ready);
    ASSERT_FALSE(answered.get().ec);
  }
  static void TearDownTestSuite() {
    client_->stop();
    work_.reset();
    io_thread_.join();
    delete client_;
    delete probe_;
    delete metrics_;
    delete stack_;
    client_ = nullptr;
    probe_ = nullptr;
    metrics_ = nullptr;
    stack_ = nullptr;
  }

  /// Publishes `request` and completes with its reply or why none came.
  static std::future<CallResult> call(v1::Request request, std::chrono::milliseconds timeout) {
    auto done = std::make_shared<std::promise<CallResult>>();
    auto result = done->get_future();
    client_->async_call(
        std::move(request), std::string(), Clock::now() + timeout,
        asio::bind_executor(ioc_, [done](boost::system::error_code ec, v1::Reply reply) {
          done->set_value({ec, std::move(reply)});
        }));
    return result;
  }

  static inline TestStack* stack_ = nullptr;
  static inline asio::io_context ioc_;
  static inline asio::executor_work_guard<asio::io_context::executor_type> work_{
      ioc_.get_executor()};
  static inline std::thread io_thread_;
  static inline obs::Metrics* metrics_ = nullptr;
  static inline gateway::GatewayProbe* probe_ = nullptr;
  static inline gateway::BusClient* client_ = nullptr;
};

TEST_F(BatchBus, ChunkOfVerifiesIsAnsweredItemByItemInOrder) {
  const double ok_before = metric(*stack_, batch_records("ok"));
  const auto subjects = stack_->subjects(150);
  ASSERT_EQ(subjects.size(), 150U);
  // Every tenth a wrong name, every tenth (another) an ID nobody has; the rest right.
  enum class Expect { kMatch, kMismatch, kUnknown };
  std::vector<Expect> expected;
  v1::Request chunk = new_chunk("job-a-1", 30s);
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    const auto& s = subjects[i];
    const std::string id = "item-" + std::to_string(i);
    if (i % 10 == 3) {
      add_verify(chunk, id, s.citizen_id, "Không Phải Tên Này", s.date_of_birth);
      expected.push_back(Expect::kMismatch);
    } else if (i % 10 == 7) {
      add_verify(chunk, id, "099" + std::to_string(100000000 + i), s.full_name, s.date_of_birth);
      expected.push_back(Expect::kUnknown);
    } else {
      add_verify(chunk, id, s.citizen_id, s.full_name, s.date_of_birth);
      expected.push_back(Expect::kMatch);
    }
  }
  auto answered = call(chunk, 30s);
  ASSERT_EQ(answered.wait_for(30s), std::future_status::ready);
  const auto [ec, reply] = answered.get();
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(reply.request_id(), "job-a-1");
  EXPECT_EQ(reply.status(), v1::STATUS_OK);
  ASSERT_EQ(reply.batch_size(), 150);
  for (int i = 0; i < reply.batch_size(); ++i) {
    const auto& item = reply.batch(i);
    const Expect want = expected[static_cast<std::size_t>(i)];
    EXPECT_EQ(item.request_id(), "item-" + std::to_string(i));
    EXPECT_EQ(item.status(), v1::STATUS_OK) << "item " << i;
    EXPECT_EQ(item.verify().subject_found(), want != Expect::kUnknown) << "item " << i;
    EXPECT_EQ(item.verify().match(), want == Expect::kMatch) << "item " << i;
    if (want == Expect::kMismatch) {
      ASSERT_EQ(item.verify().fields_size(), 2) << "item " << i;
      EXPECT_EQ(item.verify().fields(0).grade(), v1::GRADE_MISMATCH) << "item " << i;
      EXPECT_EQ(item.verify().fields(1).grade(), v1::GRADE_EXACT) << "item " << i;
    }
  }
  // Counted per record (a verify of an unknown subject is an OK answer too).
  const auto until = Clock::now() + 5s;
  while (metric(*stack_, batch_records("ok")) < ok_before + 150 && Clock::now() < until)
    std::this_thread::sleep_for(20ms);
  EXPECT_EQ(metric(*stack_, batch_records("ok")), ok_before + 150);
}

TEST_F(BatchBus, ExpiredChunkIsDroppedNotAnswered) {
  const double expired_before = metric(*stack_, batch_records("expired"));
  v1::Request chunk = new_chunk("job-b-1", -1000ms);
  const auto s = stack_->subjects(1).at(0);
  for (int i = 0; i < 5; ++i)
    add_verify(chunk, std::to_string(i), s.citizen_id, s.full_name, s.date_of_birth);
  auto answered = call(chunk, 1500ms);
  ASSERT_EQ(answered.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(answered.get().ec, gateway::make_error_code(gateway::CallErrc::kTimeout));
  const auto until = Clock::now() + 5s;
  while (metric(*stack_, batch_records("expired")) < expired_before + 5 && Clock::now() < until)
    std::this_thread::sleep_for(20ms);
  EXPECT_EQ(metric(*stack_, batch_records("expired")), expired_before + 5);
}

TEST_F(BatchBus, InteractiveRequestsOvertakeABacklogOfChunks) {
  constexpr int kChunks = 80;
  constexpr int kItems = 250;
  const auto subjects = stack_->subjects(kItems);
  ASSERT_EQ(subjects.size(), static_cast<std::size_t>(kItems));
  // Shared with the completions, which may outlive a failed assertion.
  struct Progress {
    std::atomic<int> answered{0};
    std::mutex mu;
    Clock::time_point last_answer{};
  };
  const auto progress = std::make_shared<Progress>();
  std::vector<std::future<CallResult>> replies;
  const auto sent = Clock::now();
  for (int c = 0; c < kChunks; ++c) {
    v1::Request chunk = new_chunk("job-c-" + std::to_string(c), 120s);
    for (int i = 0; i < kItems; ++i) {
      const auto& s = subjects[static_cast<std::size_t>(i)];
      add_verify(chunk, std::to_string(i), s.citizen_id, s.full_name, s.date_of_birth);
    }
    auto done = std::make_shared<std::promise<CallResult>>();
    replies.push_back(done->get_future());
    client_->async_call(
        std::move(chunk), std::string(), Clock::now() + 120s,
        asio::bind_executor(ioc_, [progress, done](boost::system::error_code ec, v1::Reply reply) {
          {
            std::lock_guard lock(progress->mu);
            progress->last_answer = Clock::now();
          }
          ++progress->answered;
          done->set_value({ec, std::move(reply)});
        }));
  }
  // The connector is working through the backlog once the first chunk is answered.
  const auto until = Clock::now() + 30s;
  while (progress->answered == 0 && Clock::now() < until) std::this_thread::sleep_for(1ms);
  ASSERT_GT(progress->answered.load(), 0) << "no chunk answered in 30 s";

  const auto& subject = subjects.at(7);
  const auto asked = Clock::now();
  const auto r = post_json(
      stack_->api_port(), "/v1/population/verify",
      json::serialize(json::object{
          {"citizen_id", subject.citizen_id}, {"full_name", subject.full_name}, {"purpose", "p"}}),
      kMinistryKey);
  const auto interactive = Clock::now() - asked;
  const int answered_meanwhile = progress->answered.load();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json().at("match").as_bool());

  for (auto& f : replies) {
    ASSERT_EQ(f.wait_for(120s), std::future_status::ready);
    const auto result = f.get();
    ASSERT_FALSE(result.ec) << result.ec.message();
    ASSERT_EQ(result.reply.batch_size(), kItems);
  }
  Clock::duration backlog{};
  {
    std::lock_guard lock(progress->mu);
    backlog = progress->last_answer - sent;
  }
  const auto ms = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  std::cout << "[          ] interactive verify " << ms(interactive) << " ms while the backlog of "
            << kChunks << "x" << kItems << " records took " << ms(backlog)
            << " ms; chunks answered by then: " << answered_meanwhile << "/" << kChunks << "\n";
  // It overtook the backlog: answered while most chunks still waited, in well under the time
  // they took (a connector that drained the chunks first fails both).
  EXPECT_LT(answered_meanwhile, kChunks / 2);
  EXPECT_LT(ms(interactive) * 2, ms(backlog));
}

}  // namespace
}  // namespace lgsp::testing
