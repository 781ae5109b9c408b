#include "gateway/audit_publisher.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <mutex>

#include "observability/log.hpp"
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
    : producer_(producer), topic_(std::move(topic)), probe_(probe), options_(std::move(options)) {}

void AuditPublisher::start() {
  if (const auto ec = producer_.learn_topic(topic_)) {
    obs::warn("audit_topic_unknown", {{"topic", topic_}, {"error", ec.message()}});
  }
}

boost::system::error_code AuditPublisher::enqueue(bus::v1::AuditEvent& event,
                                                  bus::Producer::OnDelivery on_delivery) {
  std::lock_guard lock(sequence_mu_);
  event.set_source(options_.source);
  event.set_source_seq(next_seq_);
  auto ec =
      producer_.produce(topic_, -1, event.event_id(),
                        options_.sealer ? options_.sealer->seal("audit", topic_, bus::encode(event))
                                        : bus::encode(event),
                        {}, std::move(on_delivery));
  if (!ec) ++next_seq_;
  return ec;
}

bool AuditPublisher::send(bus::v1::AuditEvent event, const OnDurable& on_durable) {
  const auto sent = std::chrono::steady_clock::now();
  probe_.audit_undelivered().Set(static_cast<double>(++undelivered_));
  const auto ec = enqueue(event, [this, sent, on_durable](rd_kafka_resp_err_t err) {
    probe_.audit_undelivered().Set(static_cast<double>(--undelivered_));
    const bool durable = err == RD_KAFKA_RESP_ERR_NO_ERROR;
    if (durable) {
      probe_.audit_delivered();
      probe_.audit_acknowledged(util::seconds_since(sent));
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
               {{"request_id", event.request_id()}, {"error", ec.message()}});
    if (on_durable) on_durable(false);
    return false;
  }
  probe_.audit_queued();
  return true;
}

void AuditPublisher::initiate_record(const bus::v1::AuditEvent& event, asio::any_io_executor ex,
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
  send(event, [this, w](bool durable) {
    auto h = w->take();
    if (!h) {
      if (durable) probe_.audit_late();
      return;
    }
    asio::post(w->executor, [w] { w->timer.cancel(); });
    w->complete(std::move(h), durable);
  });
}

bool AuditPublisher::flush(std::chrono::milliseconds timeout) { return producer_.flush(timeout); }

}  // namespace lgsp::gateway
