#include "connectors/runtime.hpp"

#include <chrono>
#include <thread>

#include "bus/client_properties.hpp"
#include "bus/statistics.hpp"
#include "observability/log.hpp"
#include "observability/trace_context.hpp"

namespace lgsp::connectors {

namespace v1 = bus::v1;
using namespace std::chrono_literals;

namespace {

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ConnectorRuntime::ConnectorRuntime(RuntimeOptions options, RegistryService& service,
                                   ConnectorProbe& probe)
    : options_(std::move(options)),
      service_(service),
      probe_(probe),
      request_topic_(options_.topics.requests(service.registry())),
      consumer_(bus::at_least_once_consumer(bus::with_statistics(options_.consumer_properties)),
                options_.group_id,
                [this](std::string_view json) {
                  if (const auto lag = bus::consumer_lag(json)) probe_.lag(*lag);
                }),
      producer_(options_.producer_properties, bus::Producer::Polling::kByOwner) {}

void ConnectorRuntime::run(const std::stop_token& stop) {
  // Replies go to the reply topic; learn it before the first request waits on it.
  if (const auto ec = producer_.learn_topic(options_.topics.replies())) {
    obs::warn("connector_topic_metadata_failed",
              {{"topic", options_.topics.replies()}, {"error", ec.message()}});
  }
  consumer_.subscribe({request_topic_});
  obs::info(
      "connector_started",
      {{"registry", service_.registry()}, {"topic", request_topic_}, {"group", options_.group_id}});
  while (!stop.stop_requested()) {
    bus::MessagePtr msg = consumer_.poll(50ms);
    producer_.poll(0ms);  // delivery reports → offsets
    probe_.ready(consumer_.joined());
    if (!msg) continue;
    if (msg->err) {
      if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        obs::warn("connector_consume_error", {{"error", rd_kafka_message_errstr(msg.get())}});
      }
      continue;
    }
    process(msg.get());
  }
  // Deliver the replies already produced, store their offsets, then leave the group so the
  // partitions move to the other instances at once.
  for (int i = 0; i < 100 && producer_.outstanding() > 0; ++i) producer_.poll(50ms);
  consumer_.close();
  probe_.ready(false);
  obs::info("connector_stopped", {{"registry", service_.registry()}});
}

void ConnectorRuntime::finish(std::int32_t partition, std::int64_t offset) {
  if (const auto next = offsets_.done(partition, offset)) {
    consumer_.store_offset(request_topic_, partition, *next);
  }
}

void ConnectorRuntime::process(const rd_kafka_message_t* msg) {
  const std::int32_t partition = msg->partition;
  const std::int64_t offset = msg->offset;
  offsets_.begin(partition, offset);

  const auto reply_to_header = bus::find_header(msg, bus::kHeaderReplyTo);
  const auto reply_to = reply_to_header ? bus::parse_reply_to(*reply_to_header) : std::nullopt;
  auto request =
      bus::decode_request(std::string_view(static_cast<const char*>(msg->payload), msg->len));
  if (!reply_to || !request) {
    // Nothing sane can be answered; keeping it would block the partition forever.
    probe_.request("undecodable");
    obs::warn("connector_undecodable_request", {{"partition", partition}, {"offset", offset}});
    return finish(partition, offset);
  }
  // The gateway's W3C trace context, so these log lines join the partner's trace.
  const auto traceparent = bus::find_header(msg, bus::kHeaderTraceparent);
  const std::string trace_id(traceparent ? obs::trace_id_of(*traceparent) : std::string_view{});
  if (request->deadline_unix_ms() > 0 && request->deadline_unix_ms() < now_unix_ms()) {
    probe_.request("expired");
    obs::debug("connector_request_expired", {{"request_id", request->request_id()},
                                             {"trace_id", trace_id},
                                             {"partner", request->partner_id()}});
    return finish(partition, offset);
  }

  const auto started = std::chrono::steady_clock::now();
  v1::Reply reply = service_.handle(*request);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  probe_.backend_latency(seconds);
  std::string_view outcome = "backend_error";
  switch (reply.status()) {
    case v1::STATUS_OK:
      outcome = "ok";
      break;
    case v1::STATUS_NOT_FOUND:
      outcome = "not_found";
      break;
    case v1::STATUS_BAD_REQUEST:
      outcome = "bad_request";
      break;
    default:
      obs::error("connector_backend_error", {{"request_id", request->request_id()},
                                             {"trace_id", trace_id},
                                             {"detail", reply.detail()}});
  }
  probe_.request(outcome);
  obs::debug("connector_request", {{"request_id", request->request_id()},
                                   {"trace_id", trace_id},
                                   {"partner", request->partner_id()},
                                   {"operation", v1::Operation_Name(request->operation())},
                                   {"outcome", outcome},
                                   {"backend_ms", seconds * 1000}});

  bus::Headers headers{{std::string(bus::kHeaderRequestId), request->request_id()}};
  if (traceparent)
    headers.push_back({std::string(bus::kHeaderTraceparent), std::string(*traceparent)});
  const std::string value = bus::encode(reply);
  const std::string request_id = request->request_id();
  for (;;) {
    const auto ec = producer_.produce(
        reply_to->topic, reply_to->partition, request_id, value, headers,
        [this, partition, offset, request_id, trace_id](rd_kafka_resp_err_t err) {
          if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            probe_.request("reply_failed");
            obs::error("connector_reply_failed", {{"request_id", request_id},
                                                  {"trace_id", trace_id},
                                                  {"error", rd_kafka_err2str(err)}});
          }
          finish(partition, offset);
        });
    if (!ec) return;
    if (ec.value() == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      producer_.poll(10ms);  // back-pressure: let deliveries drain, then retry
      continue;
    }
    probe_.request("reply_failed");
    obs::error("connector_reply_failed", {{"request_id", request_id}, {"error", ec.message()}});
    return finish(partition, offset);
  }
}

}  // namespace lgsp::connectors
