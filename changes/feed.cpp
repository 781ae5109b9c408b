#include "changes/feed.hpp"

#include <boost/asio/post.hpp>
#include <exception>

#include "bus/envelope.hpp"
#include "observability/log.hpp"
#include "observability/thread_name.hpp"
#include "registries/commands.hpp"
#include "registries/table.hpp"
#include "util/clock.hpp"

namespace lgsp::changes {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kMaxPerAppend = 500;
constexpr auto kPurgeEvery = 60s;

bool event_id_shape(std::string_view id) {
  if (id.size() != 36 || !id.starts_with("chg-")) return false;
  return std::all_of(id.begin() + 4, id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

ChangeFeed::ChangeFeed(const config::ChangesConfig& cfg, const std::string& topic,
                       const bus::Properties& consumer, std::shared_ptr<const util::Sealer> sealer,
                       obs::Metrics& metrics)
    : topic_(topic),
      retention_(cfg.retention_hours),
      max_wait_(cfg.max_wait_s),
      store_(cfg.sqlite_path),
      consumer_(consumer, "lgsp-changes-unused"),
      sealer_(std::move(sealer)),
      ingested_(prometheus::BuildCounter()
                    .Name("lgsp_changes_ingested_total")
                    .Help("Messages taken from the changes topic, by verdict: stored, duplicate "
                          "(an event id already stored), unauthenticated (not sealed by a "
                          "registry's key), misattributed (sealed by another registry than it "
                          "names), undecodable, invalid (unknown command or citizen ID)")
                    .Register(metrics.registry())),
      high_(prometheus::BuildGauge()
                .Name("lgsp_changes_feed_offset")
                .Help("The last offset of the changes topic this gateway has taken")
                .Register(metrics.registry())
                .Add({})),
      delay_(prometheus::BuildHistogram()
                 .Name("lgsp_changes_delivery_delay_seconds")
                 .Help("Time from a change applied by its registry to its delivery in a feed "
                       "answer or a webhook POST answered 2xx")
                 .Register(metrics.registry())
                 .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                                  1, 2.5, 5, 10, 30, 60, 300})),
      deliveries_(prometheus::BuildCounter()
                      .Name("lgsp_changes_delivered_total")
                      .Help("Changes delivered to partners in feed answers and webhook POSTs")
                      .Register(metrics.registry())
                      .Add({})) {
  for (const char* v :
       {"stored", "duplicate", "unauthenticated", "misattributed", "undecodable", "invalid"}) {
    ingested_.Add({{"verdict", v}});
  }
  high_.Set(static_cast<double>(store_.high()));
}

ChangeFeed::~ChangeFeed() {
  stop();
  pool_.join();
}

void ChangeFeed::start() {
  thread_ = std::jthread([this](const std::stop_token& st) {
    obs::name_this_thread("lgsp-changes");
    run(st);
  });
}

void ChangeFeed::stop() {
  // The gateway drains: waiting long-polls answer now rather than hold their connections.
  stopping_ = true;
  wake_all();
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
    consumer_.close();
  }
}

void ChangeFeed::count(std::string_view verdict) {
  ingested_.Add({{"verdict", std::string(verdict)}}).Increment();
}

std::optional<Change> ChangeFeed::verify(const rd_kafka_message_t* msg) {
  const auto opened = sealer_->open(bus::change_context(topic_), bus::payload(msg));
  if (!opened) {
    count("unauthenticated");
    obs::warn("change_unauthenticated", {{"offset", msg->offset}});
    return std::nullopt;
  }
  auto event = bus::decode_change_event(opened->plaintext);
  if (!event) {
    count("undecodable");
    return std::nullopt;
  }
  // Sealed by one registry, claiming to be another's: a connector speaking for another.
  if (!opened->domain.empty() && opened->domain != event->registry()) {
    count("misattributed");
    obs::warn("change_misattributed", {{"offset", msg->offset}, {"sealed_by", opened->domain}});
    return std::nullopt;
  }
  const registries::CommandSpec* spec =
      registries::find_change_kind(event->registry() + "." + event->kind());
  std::string citizen = event->citizen_id();
  if (spec == nullptr || !event_id_shape(event->event_id()) ||
      !registries::check_arg(registries::ArgKind::kCitizenId, citizen).empty() ||
      (!event->voids().empty() && !event_id_shape(event->voids()))) {
    count("invalid");
    obs::warn("change_invalid", {{"offset", msg->offset}});
    return std::nullopt;
  }
  Change c;
  c.offset = msg->offset;
  c.event_id = event->event_id();
  c.registry = event->registry();
  c.kind = event->kind();
  c.citizen_id = std::move(citizen);
  // Only the command's own arguments and results: nothing else rides along.
  for (const auto& [k, v] : event->data()) {
    if (registries::has_member(*spec, k) && k != "citizen_id" && v.size() <= 512) c.data[k] = v;
  }
  c.voids = event->voids();
  c.time_unix_ms = event->time_unix_ms();
  c.received_unix_ms = util::unix_ms_now();
  return c;
}

void ChangeFeed::run(const std::stop_token& stop) {
  consumer_.assign(topic_, 0, store_.next_offset());
  obs::info("change_feed_started", {{"topic", topic_}, {"offset", store_.next_offset()}});
  auto next_purge = std::chrono::steady_clock::now();
  while (!stop.stop_requested()) {
    std::vector<Change> batch;
    std::int64_t next = -1;
    for (bus::MessagePtr msg = consumer_.poll(100ms); msg; msg = consumer_.poll(0ms)) {
      if (msg->err) {
        if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
          obs::warn("change_feed_consume_error", {{"error", rd_kafka_message_errstr(msg.get())}});
        break;
      }
      next = msg->offset + 1;
      if (auto c = verify(msg.get())) batch.push_back(std::move(*c));
      if (batch.size() >= kMaxPerAppend) break;
    }
    try {
      if (next >= 0) {
        const std::size_t added = store_.append(batch, next);
        ingested_.Add({{"verdict", "stored"}}).Increment(static_cast<double>(added));
        ingested_.Add({{"verdict", "duplicate"}})
            .Increment(static_cast<double>(batch.size() - added));
        high_.Set(static_cast<double>(next - 1));
        if (added > 0) wake_all();
      }
      if (std::chrono::steady_clock::now() >= next_purge) {
        next_purge = std::chrono::steady_clock::now() + kPurgeEvery;
        const auto cutoff =
            util::unix_ms_now() -
            std::chrono::duration_cast<std::chrono::milliseconds>(retention_).count();
        if (const auto n = store_.purge(cutoff); n > 0)
          obs::info("change_feed_purged", {{"changes", static_cast<std::int64_t>(n)}});
      }
    } catch (const std::exception& e) {
      // The store cannot take them: read them again from where it stands.
      obs::error("change_feed_store_failed", {{"error", e.what()}});
      consumer_.assign(topic_, 0, store_.next_offset());
      std::this_thread::sleep_for(500ms);
    }
  }
}

void ChangeFeed::wait_on(const std::shared_ptr<asio::steady_timer>& timer) {
  std::lock_guard lock(waiters_mu_);
  waiters_.insert(timer);
}

void ChangeFeed::done_waiting(const std::shared_ptr<asio::steady_timer>& timer) {
  std::lock_guard lock(waiters_mu_);
  waiters_.erase(timer);
}

void ChangeFeed::wake_all() {
  std::lock_guard lock(waiters_mu_);
  for (const auto& t : waiters_) asio::post(t->get_executor(), [t] { t->cancel(); });
}

void ChangeFeed::delivered(double seconds) {
  delay_.Observe(seconds);
  deliveries_.Increment();
}

}  // namespace lgsp::changes
