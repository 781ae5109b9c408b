#include "connectors/runtime.hpp"

#include <array>
#include <chrono>
#include <thread>

#include "bus/client_properties.hpp"
#include "bus/statistics.hpp"
#include "observability/log.hpp"
#include "observability/trace_context.hpp"
#include "util/clock.hpp"

namespace lgsp::connectors {

namespace v1 = bus::v1;
using namespace std::chrono_literals;

namespace {

/// The outcome label of an answered request or record (the probe's bounded set).
constexpr std::array<std::string_view, 5> kOutcomes{"ok", "not_found", "bad_request",
                                                    "backend_error", "rejected"};
constexpr std::size_t kBackendError = 3;

std::size_t outcome_of(v1::Status status) {
  switch (status) {
    case v1::STATUS_OK:
      return 0;
    case v1::STATUS_NOT_FOUND:
      return 1;
    case v1::STATUS_BAD_REQUEST:
      return 2;
    case v1::STATUS_REJECTED:  // a command refused by the registry's rules
      return 4;
    default:
      return kBackendError;
  }
}

}  // namespace

ConnectorRuntime::Lane::Lane(std::string topic_name, const bus::Properties& properties,
                             const std::string& group_id, bus::Consumer::OnStatistics on_statistics,
                             bool carries_chunks)
    : topic(std::move(topic_name)),
      consumer(properties, group_id, std::move(on_statistics)),
      chunks(carries_chunks) {}

ConnectorRuntime::ConnectorRuntime(RuntimeOptions options, RegistryService& service,
                                   ConnectorProbe& probe)
    : options_(std::move(options)),
      service_(service),
      probe_(probe),
      requests_(
          options_.topics.requests(service.registry()),
          bus::at_least_once_consumer(bus::with_statistics(options_.consumer_properties)),
          options_.group_id,
          [this](std::string_view json) {
            if (const auto lag = bus::consumer_lag(json)) probe_.lag(*lag);
          },
          false),
      chunks_(options_.topics.batch_requests(service.registry()),
              // Chunks wait in a window of many; 10 ms more per fetch costs them nothing
              // and saves an idle connector most of its polling.
              bus::at_least_once_consumer(
                  bus::with_fetch_wait_at_least(options_.consumer_properties, 10)),
              options_.group_id + "-batch", {}, true),
      producer_(options_.producer_properties, bus::Producer::Polling::kByOwner) {
  if (!options_.sealer) options_.sealer = std::make_shared<const util::Sealer>();
  if (!options_.change_outbox.empty()) {
    changes_ = std::make_unique<ChangePublisher>(std::string(service.registry()),
                                                 options_.change_outbox, options_.topics.changes(),
                                                 producer_, options_.sealer, probe_);
  }
}

void ConnectorRuntime::run(const std::stop_token& stop) {
  // Replies go to the reply topic; learn it before the first request waits on it.
  if (const auto ec = producer_.learn_topic(options_.topics.replies())) {
    obs::warn("connector_topic_metadata_failed",
              {{"topic", options_.topics.replies()}, {"error", ec.message()}});
  }
  if (changes_) {
    if (const auto ec = producer_.learn_topic(options_.topics.changes())) {
      obs::warn("connector_topic_metadata_failed",
                {{"topic", options_.topics.changes()}, {"error", ec.message()}});
    }
  }
  requests_.consumer.subscribe({requests_.topic});
  chunks_.consumer.subscribe({chunks_.topic});
  obs::info("connector_started", {{"registry", service_.registry()},
                                  {"topic", requests_.topic},
                                  {"batch_topic", chunks_.topic},
                                  {"group", options_.group_id}});
  bool took_chunk = false;
  while (!stop.stop_requested()) {
    // Interactive requests first. Right after a chunk the poll does not wait: a request that
    // came in meanwhile must not wait behind the next chunk too.
    bus::MessagePtr msg = requests_.consumer.poll(took_chunk ? 0ms : 50ms);
    producer_.poll(0ms);  // delivery reports → offsets
    probe_.ready(requests_.consumer.joined());
    if (usable(msg)) process(requests_, msg.get());
    // Then at most one chunk, never waited for. Under interactive load the two alternate, so
    // chunks still progress and their consumer keeps its group membership; when both topics
    // are idle, the 50 ms wait above keeps the loop from spinning.
    bus::MessagePtr chunk = chunks_.consumer.poll(0ms);
    took_chunk = usable(chunk);
    if (took_chunk) process(chunks_, chunk.get());
    if (changes_) {
      changes_->pump(applied_);
      applied_ = false;
    }
  }
  // Deliver the replies and changes already produced, store their offsets, then leave both
  // groups so the partitions move to the other instances at once.
  for (int i = 0; i < 100 && producer_.outstanding() > 0; ++i) producer_.poll(50ms);
  if (changes_) changes_->settle();  // what was acknowledged meanwhile leaves the outbox
  requests_.consumer.close();
  chunks_.consumer.close();
  probe_.ready(false);
  obs::info("connector_stopped", {{"registry", service_.registry()}});
}

bool ConnectorRuntime::usable(const bus::MessagePtr& msg) {
  if (!msg) return false;
  if (msg->err) {
    if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      obs::warn("connector_consume_error", {{"error", rd_kafka_message_errstr(msg.get())}});
    }
    return false;
  }
  return true;
}

bool ConnectorRuntime::replies_within_bounds(const bus::ReplyTo& to) const {
  return to.topic == options_.topics.replies() && to.partition >= 0 &&
         to.partition < options_.reply_partitions;
}

void ConnectorRuntime::finish(Lane& lane, std::int32_t partition, std::int64_t offset) {
  if (const auto next = lane.offsets.done(partition, offset)) {
    lane.consumer.store_offset(lane.topic, partition, *next);
  }
}

std::optional<std::string> ConnectorRuntime::open_request(const Lane& lane,
                                                          const rd_kafka_message_t* msg,
                                                          std::string_view reply_to,
                                                          std::string_view bundle) {
  if (auto opened = options_.sealer->open_as(service_.registry(),
                                             bus::request_context(lane.topic, reply_to, bundle),
                                             bus::payload(msg)))
    return opened;
  // Not sealed with this registry's key for this topic and reply address: a writer to the
  // request topic who does not hold the key (forged, or altered, or moved from elsewhere).
  probe_.request("unauthenticated");
  obs::warn("connector_unauthenticated_request",
            {{"topic", lane.topic}, {"partition", msg->partition}, {"offset", msg->offset}});
  return std::nullopt;
}

void ConnectorRuntime::process(Lane& lane, const rd_kafka_message_t* msg) {
  const std::int32_t partition = msg->partition;
  const std::int64_t offset = msg->offset;
  lane.offsets.begin(partition, offset);

  const auto reply_to_header = bus::find_header(msg, bus::kHeaderReplyTo);
  const auto reply_to = reply_to_header ? bus::parse_reply_to(*reply_to_header) : std::nullopt;
  if (reply_to && !replies_within_bounds(*reply_to)) {
    // A writer to the request topic asking for answers to be sent where it can read them.
    probe_.request("misdirected");
    obs::warn("connector_misdirected_request", {{"topic", lane.topic},
                                                {"partition", partition},
                                                {"offset", offset},
                                                {"reply_topic", reply_to->topic},
                                                {"reply_partition", reply_to->partition}});
    return finish(lane, partition, offset);
  }
  const auto bundled = bus::find_header(msg, bus::kHeaderBundle);
  const auto opened = open_request(lane, msg, reply_to_header.value_or(std::string_view{}),
                                   bundled.value_or(std::string_view{}));
  if (!opened) return finish(lane, partition, offset);
  if (!lane.chunks && bundled) {
    const auto bundle = reply_to ? bus::decode_request_bundle(*opened) : std::nullopt;
    if (bundle) return process_bundle(lane, msg, *reply_to, *bundle);
    probe_.request("undecodable");
    obs::warn("connector_undecodable_request",
              {{"topic", lane.topic}, {"partition", partition}, {"offset", offset}});
    return finish(lane, partition, offset);
  }
  auto request = bus::decode_request(*opened);
  if (!reply_to || !request) {
    // Nothing sane can be answered; keeping it would block the partition forever.
    probe_.request("undecodable");
    obs::warn("connector_undecodable_request",
              {{"topic", lane.topic}, {"partition", partition}, {"offset", offset}});
    return finish(lane, partition, offset);
  }
  // The gateway's W3C trace context, so these log lines join the partner's trace.
  const auto traceparent = bus::find_header(msg, bus::kHeaderTraceparent);
  const std::string trace_id(traceparent ? obs::trace_id_of(*traceparent) : std::string_view{});
  if (request->deadline_unix_ms() > 0 && request->deadline_unix_ms() < util::unix_ms_now()) {
    if (lane.chunks) {
      probe_.batch_records("expired", request->batch_size());
    } else {
      probe_.request("expired");
    }
    obs::debug(lane.chunks ? "connector_chunk_expired" : "connector_request_expired",
               {{"request_id", request->request_id()},
                {"trace_id", trace_id},
                {"partner", request->partner_id()}});
    return finish(lane, partition, offset);
  }
  const v1::Reply reply =
      lane.chunks ? answer_chunk(*request, trace_id) : answer(*request, trace_id);
  bus::Headers headers{{std::string(bus::kHeaderRequestId), request->request_id()}};
  if (traceparent)
    headers.push_back({std::string(bus::kHeaderTraceparent), std::string(*traceparent)});
  send_reply(
      lane, msg, *reply_to, request->request_id(), seal_reply(*reply_to, {}, reply), headers,
      {request->request_id(), trace_id, lane.chunks ? request->batch_size() : 1, lane.chunks});
}

void ConnectorRuntime::process_bundle(Lane& lane, const rd_kafka_message_t* msg,
                                      const bus::ReplyTo& to, const v1::RequestBundle& bundle) {
  const std::int64_t now = util::unix_ms_now();
  v1::ReplyBundle replies;
  for (const auto& request : bundle.requests()) {
    const std::string trace_id(obs::trace_id_of(request.traceparent()));
    if (request.deadline_unix_ms() > 0 && request.deadline_unix_ms() < now) {
      probe_.request("expired");
      obs::debug("connector_request_expired", {{"request_id", request.request_id()},
                                               {"trace_id", trace_id},
                                               {"partner", request.partner_id()}});
      continue;
    }
    *replies.add_replies() = answer(request, trace_id);
  }
  if (replies.replies_size() == 0) return finish(lane, msg->partition, msg->offset);
  const std::string count = std::to_string(replies.replies_size());
  const bus::Headers headers{{std::string(bus::kHeaderBundle), count}};
  send_reply(lane, msg, to, {}, seal_reply(to, count, replies), headers,
             {"bundle of " + std::to_string(replies.replies_size()), {}, replies.replies_size()});
}

v1::Reply ConnectorRuntime::answer(const v1::Request& request, const std::string& trace_id) {
  const bool command = request.operation() == v1::OPERATION_COMMAND;
  applied_ |= command;
  const auto started = std::chrono::steady_clock::now();
  v1::Reply reply = service_.handle(request);
  // An upstream system applied it: its change goes to the connector's outbox before the
  // answer does; if it cannot, the command is answered unavailable and comes again (the
  // upstream answers a repeated id with its recorded outcome).
  if (command && changes_ && options_.outbox_of_connector && reply.status() == v1::STATUS_OK &&
      reply.subject_citizen_ids_size() > 0 &&
      !changes_->queue(registries::sqlite_rows::make_change(
          service_.registry(), request, reply.subject_citizen_ids(0), reply.answer_json()))) {
    fail(reply, v1::STATUS_UNAVAILABLE, "the connector's change outbox cannot be written");
  }
  const double seconds = util::seconds_since(started);
  probe_.backend_latency(seconds);
  const std::size_t outcome = outcome_of(reply.status());
  if (outcome == kBackendError) {
    obs::error(
        "connector_backend_error",
        {{"request_id", request.request_id()}, {"trace_id", trace_id}, {"detail", reply.detail()}});
  }
  probe_.request(kOutcomes.at(outcome));
  obs::debug("connector_request", {{"request_id", request.request_id()},
                                   {"trace_id", trace_id},
                                   {"partner", request.partner_id()},
                                   {"operation", v1::Operation_Name(request.operation())},
                                   {"outcome", kOutcomes.at(outcome)},
                                   {"backend_ms", seconds * 1000}});
  return reply;
}

v1::Reply ConnectorRuntime::answer_chunk(const v1::Request& chunk, const std::string& trace_id) {
  const auto started = std::chrono::steady_clock::now();
  v1::Reply reply;
  service_.handle_batch(chunk, reply);
  const double seconds = util::seconds_since(started);
  probe_.backend_latency(seconds);  // one observation per chunk: one backend call

  std::array<std::int64_t, kOutcomes.size()> records{};
  std::string_view first_error;
  if (reply.status() != v1::STATUS_OK) {
    records.at(kBackendError) = chunk.batch_size();
    first_error = reply.detail();
  } else {
    for (const auto& item : reply.batch()) {
      const std::size_t outcome = outcome_of(item.status());
      ++records.at(outcome);
      if (outcome == kBackendError && first_error.empty()) first_error = item.detail();
    }
  }
  for (std::size_t i = 0; i < kOutcomes.size(); ++i)
    probe_.batch_records(kOutcomes.at(i), records.at(i));
  // One line per chunk, not per record: a failing store would otherwise log hundreds.
  if (records.at(kBackendError) > 0) {
    obs::error("connector_backend_error", {{"request_id", chunk.request_id()},
                                           {"trace_id", trace_id},
                                           {"records", records.at(kBackendError)},
                                           {"detail", first_error}});
  }
  obs::debug("connector_chunk", {{"request_id", chunk.request_id()},
                                 {"trace_id", trace_id},
                                 {"partner", chunk.partner_id()},
                                 {"operation", v1::Operation_Name(chunk.operation())},
                                 {"records", chunk.batch_size()},
                                 {"ok", records.at(0)},
                                 {"not_found", records.at(1)},
                                 {"backend_ms", seconds * 1000}});
  return reply;
}

template <class Envelope>
std::string ConnectorRuntime::seal_reply(const bus::ReplyTo& to, std::string_view bundle,
                                         const Envelope& reply) const {
  return options_.sealer->seal(service_.registry(),
                               bus::reply_context(bus::format_reply_to(to), bundle),
                               bus::encode(reply));
}

void ConnectorRuntime::send_reply(Lane& lane, const rd_kafka_message_t* msg, const bus::ReplyTo& to,
                                  std::string_view key, const std::string& value,
                                  const bus::Headers& headers, LogIds ids) {
  const std::int32_t partition = msg->partition;
  const std::int64_t offset = msg->offset;
  const std::string& request_id = ids.request_id;
  for (;;) {
    const auto ec = producer_.produce(
        to.topic, to.partition, key, value, headers,
        [this, &lane, partition, offset, ids](rd_kafka_resp_err_t err) {
          if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            probe_.reply_failed(ids.requests, ids.chunk);
            obs::error("connector_reply_failed", {{"request_id", ids.request_id},
                                                  {"trace_id", ids.trace_id},
                                                  {"error", rd_kafka_err2str(err)}});
          }
          finish(lane, partition, offset);
        });
    if (!ec) return;
    if (ec.value() == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      producer_.poll(10ms);  // back-pressure: let deliveries drain, then retry
      continue;
    }
    probe_.reply_failed(ids.requests, ids.chunk);
    if (ec.value() == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
      obs::error("connector_reply_failed",
                 {{"request_id", request_id},
                  {"error", ec.message()},
                  {"bytes", value.size()},
                  {"hint",
                   "lower batches.chunk_records, or raise message.max.bytes in "
                   "kafka.producer_properties and the reply topic's max.message.bytes"}});
    } else {
      obs::error("connector_reply_failed", {{"request_id", request_id}, {"error", ec.message()}});
    }
    return finish(lane, partition, offset);
  }
}

}  // namespace lgsp::connectors
