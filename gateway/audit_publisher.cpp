#include "gateway/audit_publisher.hpp"

#include <algorithm>
#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <mutex>

#include "observability/log.hpp"
#include "observability/thread_name.hpp"
#include "util/clock.hpp"

namespace lgsp::gateway {

namespace asio = boost::asio;

namespace {

/// One async_record() in progress: completed once, by the acknowledgement or the timer,
/// whichever comes first.
struct Waiter {
  Waiter(asio::any_io_executor ex, asio::any_completion_handler<void(bool)> h)
      : executor(std::move(ex)), timer(executor), handler(std::move(h)) {}

  /// The handler if nobody has taken it yet.
  asio::any_completion_handler<void(bool)> take() {
    std::lock_guard lock(mu);
    return std::move(handler);
  }
  void complete(asio::any_completion_handler<void(bool)> h, bool durable) {
    asio::post(executor, asio::append(std::move(h), durable));
  }

  asio::any_io_executor executor;
  asio::steady_timer timer;  // touched on `executor` only
  std::mutex mu;
  asio::any_completion_handler<void(bool)> handler;
};

}  // namespace

std::string SubjectHasher::hash(std::string_view citizen_id) const {
  const auto md = hmac_.digest(citizen_id);
  return util::to_hex(md.data(), md.size());
}

AuditPublisher::AuditPublisher(bus::Producer& producer, std::string topic, GatewayProbe& probe,
                               AuditPublisherOptions options)
    : producer_(producer), topic_(std::move(topic)), probe_(probe), options_(std::move(options)) {
  thread_ = std::jthread([this](const std::stop_token& stop) {
    obs::name_this_thread("lgsp-audit-send");
    send_loop(stop);
  });
}

AuditPublisher::~AuditPublisher() {
  // The loop hands what is still queued to the producer before it returns.
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void AuditPublisher::start() {
  if (const auto ec = producer_.learn_topic(topic_)) {
    obs::warn("audit_topic_unknown", {{"topic", topic_}, {"error", ec.message()}});
  }
}

void AuditPublisher::send(bus::v1::AuditEvent event, OnDurable on_durable) {
  probe_.audit_undelivered().Set(static_cast<double>(++undelivered_));
  bool wake = false;
  {
    std::lock_guard lock(queue_mu_);
    wake = queue_.empty();
    queue_.push_back({std::move(event), std::move(on_durable), std::chrono::steady_clock::now()});
  }
  // The publisher is asleep on an empty queue (wake it) or producing (it comes back for this).
  if (wake) wake_.notify_one();
}

void AuditPublisher::send_loop(const std::stop_token& stop) {
  std::vector<Queued> batch;
  for (;;) {
    {
      std::unique_lock lock(queue_mu_);
      producing_ = false;
      if (queue_.empty()) drained_.notify_all();
      wake_.wait(lock, stop, [this] { return !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to hand over
      batch.swap(queue_);
      producing_ = true;
    }
    for (auto& q : batch) produce(q);
    batch.clear();
  }
}

void AuditPublisher::produce(Queued& q) {
  q.event.set_source(options_.source);
  q.event.set_source_seq(next_seq_);
  const std::string encoded = bus::encode(q.event);
  const auto ec = producer_.produce(
      topic_, -1, q.event.event_id(),
      options_.sealer ? options_.sealer->seal("audit", topic_, encoded) : encoded, {},
      // A copy of on_durable: the producer drops this callback uncalled when it refuses.
      [this, queued = q.queued, on_durable = q.on_durable](rd_kafka_resp_err_t err) {
        probe_.audit_undelivered().Set(static_cast<double>(--undelivered_));
        const bool durable = err == RD_KAFKA_RESP_ERR_NO_ERROR;
        if (durable) {
          probe_.audit_delivered();
          probe_.audit_acknowledged(util::seconds_since(queued));
        } else {
          probe_.audit_failed();
          obs::error("audit_event_lost", {{"error", rd_kafka_err2str(err)}});
        }
        if (on_durable) on_durable(durable);
      });
  if (ec) {
    probe_.audit_undelivered().Set(static_cast<double>(--undelivered_));
    probe_.audit_failed();
    obs::error("audit_event_not_queued",
               {{"request_id", q.event.request_id()}, {"error", ec.message()}});
    if (q.on_durable) q.on_durable(false);
    return;
  }
  ++next_seq_;
  probe_.audit_queued();
}

void AuditPublisher::initiate_record(bus::v1::AuditEvent event, asio::any_io_executor ex,
                                     asio::any_completion_handler<void(bool)> handler) {
  auto w = std::make_shared<Waiter>(std::move(ex), std::move(handler));
  // Armed before the event is sent, so the acknowledgement can only cancel a pending wait.
  w->timer.expires_after(options_.delivery_timeout);
  w->timer.async_wait([w](boost::system::error_code ec) {
    if (ec) return;  // cancelled: acknowledged or failed first
    if (auto h = w->take()) {
      obs::warn("audit_event_unacknowledged", {{"detail", "answer refused, event still queued"}});
      w->complete(std::move(h), false);
    }
  });
  send(std::move(event), [this, w](bool durable) {
    auto h = w->take();
    if (!h) {
      if (durable) probe_.audit_late();
      return;
    }
    // One hand-off to the caller's executor: the timer's cancel and the completion together.
    asio::post(w->executor, [w, h = std::move(h), durable]() mutable {
      w->timer.cancel();
      std::move(h)(durable);
    });
  });
}

bool AuditPublisher::flush(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  {
    std::unique_lock lock(queue_mu_);
    if (!drained_.wait_until(lock, until, [this] { return queue_.empty() && !producing_; }))
      return false;
  }
  return producer_.flush(
      std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 until - std::chrono::steady_clock::now())));
}

}  // namespace lgsp::gateway
