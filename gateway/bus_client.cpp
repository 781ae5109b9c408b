#include "gateway/bus_client.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>
#include <stdexcept>

#include "observability/log.hpp"
#include "observability/thread_name.hpp"

namespace lgsp::gateway {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

class CallCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "bus-call"; }
  std::string message(int ev) const override {
    switch (static_cast<CallErrc>(ev)) {
      case CallErrc::kTimeout:
        return "no reply before the deadline";
      case CallErrc::kOverloaded:
        return "too many requests awaiting replies";
      case CallErrc::kPublishFailed:
        return "the request could not be published to the bus";
      case CallErrc::kStopped:
        return "the gateway is shutting down";
    }
    return "unknown bus call error";
  }
};

/// librdkafka wants a group id even for a manual assignment; it is never joined and nothing
/// is committed: a restarted instance starts from the end of its partition.
bus::Properties reply_consumer_properties(const BusClientOptions& o) {
  bus::Properties p = o.consumer_properties;
  p.emplace_back("enable.auto.commit", "false");
  p.emplace_back("enable.auto.offset.store", "false");
  return p;
}

BusClientOptions with_sealer(BusClientOptions o) {
  if (!o.sealer) o.sealer = std::make_shared<const util::Sealer>();
  return o;
}

}  // namespace

const boost::system::error_category& call_category() {
  static const CallCategory category;
  return category;
}

BusClient::BusClient(BusClientOptions options, GatewayProbe& probe)
    : options_(with_sealer(std::move(options))),
      keys_(options_.message_key_secret),
      probe_(probe),
      reply_to_(bus::format_reply_to({options_.topics.replies(), options_.reply_partition})),
      producer_(options_.producer_properties, bus::Producer::Polling::kBackground),
      consumer_(reply_consumer_properties(options_),
                "lgsp-gateway-replies-" + std::to_string(options_.reply_partition)),
      table_(options_.max_pending) {
  for (const auto& registry : options_.registries)
    exchange_duration_[registry] = &probe_.exchange_duration(registry);
}

BusClient::~BusClient() { stop(); }

void BusClient::start() {
  const std::string topic = options_.topics.replies();
  const auto give_up = Clock::now() + 30s;
  std::int64_t low = 0, high = 0;
  for (;;) {
    const auto err = rd_kafka_query_watermark_offsets(consumer_.handle(), topic.c_str(),
                                                      options_.reply_partition, &low, &high, 2000);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (Clock::now() > give_up) {
      throw std::runtime_error(
          "cannot reach reply topic " + topic + " partition " +
          std::to_string(options_.reply_partition) + ": " + rd_kafka_err2str(err) +
          " (check kafka.bootstrap, that the topic exists with more partitions than "
          "gateway.instance, and the broker is up)");
    }
    obs::warn("bus_waiting_for_reply_topic", {{"topic", topic}, {"error", rd_kafka_err2str(err)}});
  }
  for (const auto& registry : options_.registries) {
    for (const auto& name :
         {options_.topics.requests(registry), options_.topics.batch_requests(registry)}) {
      std::int32_t partitions = 0;
      if (const auto ec = producer_.learn_topic(name, &partitions)) {
        obs::warn("bus_topic_metadata_failed", {{"topic", name}, {"error", ec.message()}});
      } else if (partitions > 0 && name == options_.topics.requests(registry)) {
        partitions_[name] = partitions;
      }
    }
  }
  // Start from the current end: replies to this instance's requests all come later.
  consumer_.assign(topic, options_.reply_partition, high);
  positioned_ = true;
  bus_reachable_ = true;
  reply_thread_ = std::jthread([this](const std::stop_token& st) {
    obs::name_this_thread("lgsp-bus-reply");
    reply_loop(st);
  });
  send_thread_ = std::jthread([this](const std::stop_token& st) {
    obs::name_this_thread("lgsp-bus-send");
    send_loop(st);
  });
  obs::info("bus_client_started", {{"reply_to", reply_to_}, {"reply_offset", high}});
}

void BusClient::stop() {
  if (stopping_.exchange(true)) return;
  std::vector<std::pair<std::string, Completion>> left;
  {
    std::lock_guard lock(mu_);
    left = table_.take_all();
    outbox_.clear();
  }
  for (auto& [id, c] : left) complete(std::move(c), CallErrc::kStopped, {});
  if (reply_thread_.joinable()) {
    reply_thread_.request_stop();
    reply_thread_.join();
  }
  if (send_thread_.joinable()) {
    send_thread_.request_stop();
    send_thread_.join();
  }
  producer_.flush(5s);
  consumer_.close();
}

std::string BusClient::readiness() const {
  if (!positioned_) return "reply partition not positioned yet";
  if (!bus_reachable_) return "Kafka cluster not reachable";
  if (stopping_) return "shutting down";
  return {};
}

std::size_t BusClient::pending() const {
  std::lock_guard lock(mu_);
  return table_.size();
}

void BusClient::complete(Completion c, boost::system::error_code ec, bus::v1::Reply reply) {
  // Resume the caller on its own executor (the connection's strand), never on our threads.
  // Always posted (never inline), so a caller never resumes on a Kafka thread nor inside
  // its own initiation.
  auto ex = c.executor;
  asio::post(ex, asio::append(std::move(c.handler), ec, std::move(reply)));
}

void BusClient::fail(const std::string& request_id, CallErrc why) {
  std::optional<Completion> c;
  {
    std::lock_guard lock(mu_);
    c = table_.take(request_id);
    probe_.pending_exchanges().Set(static_cast<double>(table_.size()));
  }
  if (c) complete(std::move(*c), why, {});
}

void BusClient::initiate(bus::v1::Request request, std::string traceparent,
                         Clock::time_point deadline, Completion completion) {
  const auto started = Clock::now();
  completion.started = started;
  completion.registry = request.registry();
  if (const auto it = exchange_duration_.find(request.registry());
      it != exchange_duration_.end() && request.batch_size() == 0)
    completion.exchange_duration = it->second;
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return complete(std::move(completion), CallErrc::kStopped, {});
    // add() moves from `completion` only when it succeeds.
    if (!table_.add(request.request_id(), std::move(completion), deadline)) {
      return complete(std::move(completion),  // NOLINT(bugprone-use-after-move)
                      CallErrc::kOverloaded, {});
    }
    probe_.pending_exchanges().Set(static_cast<double>(table_.size()));
    wake = outbox_.empty();
    outbox_.push_back({std::move(request), std::move(traceparent), started, {}});
  }
  // The sender is either asleep on an empty outbox (wake it) or publishing (it will find
  // this request when it comes back).
  if (wake) wake_sender_.notify_one();
}

void BusClient::send_loop(const std::stop_token& stop) {
  std::vector<Outgoing> outgoing;
  std::unique_lock lock(mu_);
  while (!stop.stop_requested()) {
    if (outbox_.empty()) {
      const auto has_work = [this] { return !outbox_.empty(); };
      if (const auto next = table_.next_deadline()) {
        wake_sender_.wait_until(lock, stop, *next, has_work);
      } else {
        wake_sender_.wait(lock, stop, has_work);
      }
    }
    outgoing.swap(outbox_);
    auto expired = table_.take_expired(Clock::now());
    if (!expired.empty()) probe_.pending_exchanges().Set(static_cast<double>(table_.size()));
    lock.unlock();
    for (auto& [id, c] : expired) {
      probe_.reply_timeout();
      complete(std::move(c), CallErrc::kTimeout, {});
    }
    if (!outgoing.empty()) publish(outgoing);
    outgoing.clear();
    lock.lock();
  }
}

bool BusClient::can_seal(const std::string& registry) const {
  if (options_.sealer->has_key(registry)) return true;
  // A registry module with no key in kafka.envelope_keys_dir: its requests are refused
  // (503) rather than sent unsealed.
  obs::error("bus_no_envelope_key", {{"registry", registry}});
  return false;
}

void BusClient::publish(std::vector<Outgoing>& outgoing) {
  // Interactive requests are grouped by the partition their subject's key maps to; bulk
  // chunks (already a batch, on their own topic, keyed by chunk id) and requests to a topic
  // of unknown partition count go alone, placed by the partitioner.
  std::map<std::pair<std::string_view, std::int32_t>, std::vector<Outgoing*>> groups;
  for (auto& o : outgoing) {
    const auto& r = o.request;
    if (!can_seal(r.registry())) {
      probe_.produce_error();
      fail(r.request_id(), CallErrc::kPublishFailed);
      continue;
    }
    if (r.batch_size() > 0) {
      o.key = keys_.key(r.request_id());
      publish_one(o, options_.topics.batch_requests(r.registry()), -1);
      continue;
    }
    o.key = keys_.key(r.subject());
    const std::string topic = options_.topics.requests(r.registry());
    const auto known = partitions_.find(topic);
    if (known == partitions_.end() || options_.max_bundle <= 1) {
      publish_one(o, topic, -1);
      continue;
    }
    groups[{known->first, bus::partition_for_key(o.key, known->second)}].push_back(&o);
  }
  for (const auto& [where, group] : groups) {
    const std::string topic(where.first);
    for (auto first = group.begin(); first != group.end();) {
      const auto n =
          std::min<std::size_t>(options_.max_bundle, static_cast<std::size_t>(group.end() - first));
      const auto last = first + static_cast<std::ptrdiff_t>(n);
      if (n == 1) {
        publish_one(**first, topic, where.second);
      } else {
        publish_bundle(first, last, topic, where.second);
      }
      first = last;
    }
  }
}

void BusClient::publish_one(Outgoing& o, const std::string& topic, std::int32_t partition) {
  const std::string id = o.request.request_id();
  bus::Headers headers{{std::string(bus::kHeaderReplyTo), reply_to_},
                       {std::string(bus::kHeaderRequestId), id}};
  if (!o.traceparent.empty())
    headers.push_back({std::string(bus::kHeaderTraceparent), std::move(o.traceparent)});
  const auto value = options_.sealer->seal(
      o.request.registry(), bus::request_context(topic, reply_to_, {}), bus::encode(o.request));
  const auto ec = producer_.produce(
      topic, partition, o.key, value, headers,
      [this, id, started = o.started](rd_kafka_resp_err_t err) {
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          probe_.delivered(std::chrono::duration<double>(Clock::now() - started).count());
          return;
        }
        probe_.produce_error();
        obs::warn("bus_delivery_failed", {{"request_id", id}, {"error", rd_kafka_err2str(err)}});
        fail(id, CallErrc::kPublishFailed);
      });
  if (ec) {
    probe_.produce_error();
    obs::warn("bus_produce_refused", {{"request_id", id}, {"error", ec.message()}});
    fail(id, ec.value() == RD_KAFKA_RESP_ERR__QUEUE_FULL ? CallErrc::kOverloaded
                                                         : CallErrc::kPublishFailed);
    return;
  }
  if (o.request.batch_size() == 0) probe_.published(1);
}

void BusClient::publish_bundle(std::vector<Outgoing*>::const_iterator first,
                               std::vector<Outgoing*>::const_iterator last,
                               const std::string& topic, std::int32_t partition) {
  bus::v1::RequestBundle bundle;
  const std::string registry = (*first)->request.registry();    // one topic: one registry
  std::vector<std::pair<std::string, Clock::time_point>> sent;  // id, when initiated
  sent.reserve(static_cast<std::size_t>(last - first));
  for (auto it = first; it != last; ++it) {
    Outgoing& o = **it;
    sent.emplace_back(o.request.request_id(), o.started);
    o.request.set_traceparent(std::move(o.traceparent));
    *bundle.add_requests() = std::move(o.request);
  }
  const std::string count_header = std::to_string(sent.size());
  const bus::Headers headers{{std::string(bus::kHeaderReplyTo), reply_to_},
                             {std::string(bus::kHeaderBundle), count_header}};
  const std::size_t count = sent.size();
  auto on_delivery = [this, sent](rd_kafka_resp_err_t err) {
    const auto now = Clock::now();
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (const auto& [id, started] : sent)
        probe_.delivered(std::chrono::duration<double>(now - started).count());
      return;
    }
    obs::warn("bus_delivery_failed", {{"requests", sent.size()}, {"error", rd_kafka_err2str(err)}});
    for (const auto& [id, started] : sent) {
      probe_.produce_error();
      fail(id, CallErrc::kPublishFailed);
    }
  };
  const auto value = options_.sealer->seal(
      registry, bus::request_context(topic, reply_to_, count_header), bus::encode(bundle));
  const auto ec = producer_.produce(topic, partition, {}, value, headers, std::move(on_delivery));
  if (ec) {
    obs::warn("bus_produce_refused", {{"requests", count}, {"error", ec.message()}});
    for (const auto& [id, started] : sent) {
      probe_.produce_error();
      fail(id, ec.value() == RD_KAFKA_RESP_ERR__QUEUE_FULL ? CallErrc::kOverloaded
                                                           : CallErrc::kPublishFailed);
    }
    return;
  }
  probe_.published(count);
}

void BusClient::reply_loop(const std::stop_token& stop) {
  auto next_check = Clock::now();
  while (!stop.stop_requested()) {
    if (Clock::now() >= next_check) {
      check_bus();
      next_check = Clock::now() + 1s;
    }
    bus::MessagePtr msg = consumer_.poll(50ms);
    if (!msg) continue;
    if (msg->err) {
      if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        obs::warn("bus_reply_consume_error", {{"error", rd_kafka_message_errstr(msg.get())}});
      }
      continue;
    }
    const auto bundled = bus::find_header(msg.get(), bus::kHeaderBundle);
    const auto opened =
        options_.sealer->open(bus::reply_context(reply_to_, bundled.value_or(std::string_view{})),
                              bus::payload(msg.get()));
    if (!opened) {
      // Not sealed by a registry's key for this partition: a forgery, or a key we lack.
      probe_.unauthenticated_reply();
      obs::debug("bus_reply_unauthenticated", {{"offset", msg->offset}});
      continue;
    }
    if (bundled) {
      auto bundle = bus::decode_reply_bundle(opened->plaintext);
      if (!bundle) {
        probe_.unknown_reply();
        continue;
      }
      for (auto& reply : *bundle->mutable_replies()) deliver(std::move(reply), opened->domain);
    } else if (auto reply = bus::decode_reply(opened->plaintext)) {
      deliver(std::move(*reply), opened->domain);
    } else {
      probe_.unknown_reply();
    }
  }
}

void BusClient::deliver(bus::v1::Reply reply, std::string_view sealed_by) {
  std::optional<Completion> c;
  CorrelationTable<Completion>::Unmatched why{};
  {
    std::lock_guard lock(mu_);
    // One registry's key must not answer for another (a connector holds only its own).
    if (const auto* pending = table_.find(reply.request_id());
        pending != nullptr && options_.sealer->sealing() && pending->registry != sealed_by) {
      probe_.unauthenticated_reply();
      return;
    }
    c = table_.take(reply.request_id());
    if (!c) why = table_.classify(reply.request_id());
    probe_.pending_exchanges().Set(static_cast<double>(table_.size()));
  }
  if (c) {
    if (c->exchange_duration != nullptr) {
      c->exchange_duration->Observe(
          std::chrono::duration<double>(Clock::now() - c->started).count());
    }
    complete(std::move(*c), {}, std::move(reply));
  } else if (why == CorrelationTable<Completion>::Unmatched::kLate) {
    probe_.late_reply();
  } else if (why == CorrelationTable<Completion>::Unmatched::kDuplicate) {
    probe_.duplicate_reply();
  } else {
    probe_.unknown_reply();
  }
}

void BusClient::check_bus() {
  const rd_kafka_metadata_t* md = nullptr;
  // A cheap metadata round trip (no topic list) tells whether any broker answers.
  const auto err = rd_kafka_metadata(producer_.handle(), 0, nullptr, &md, 1000);
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  const bool ok = err == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (ok != bus_reachable_.exchange(ok)) {
    obs::log(ok ? spdlog::level::info : spdlog::level::warn,
             ok ? "bus_reachable" : "bus_unreachable", {{"error", rd_kafka_err2str(err)}});
  }
}

}  // namespace lgsp::gateway
