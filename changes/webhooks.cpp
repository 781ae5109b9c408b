#include "changes/webhooks.hpp"

#include <prometheus/registry.h>

#include <algorithm>
#include <boost/json.hpp>
#include <future>
#include <variant>

#include "changes/api.hpp"
#include "http/request_id.hpp"
#include "observability/log.hpp"
#include "util/clock.hpp"

namespace lgsp::changes {

namespace json = boost::json;

namespace {

/// How often an idle dispatcher looks for new changes (the feed's high offset: no store read).
constexpr std::chrono::milliseconds kLookEvery{100};
/// How long a delivery waits for its audit event to become durable before it gives up.
constexpr std::chrono::seconds kAuditWait{10};

}  // namespace

WebhookDispatcher::WebhookDispatcher(const config::Config& cfg, ChangeFeed& feed,
                                     gateway::AuditPublisher* audit,
                                     const gateway::SubjectHasher* hasher, obs::Metrics& metrics)
    : feed_(feed),
      audit_(audit),
      hasher_(hasher),
      timeout_(cfg.changes.webhook_timeout_ms),
      batch_(static_cast<std::size_t>(cfg.changes.webhook_batch)),
      max_backoff_(cfg.changes.webhook_max_backoff_s),
      deliveries_(prometheus::BuildCounter()
                      .Name("lgsp_changes_webhook_deliveries_total")
                      .Help("Webhook POSTs of the change feed by partner and outcome: delivered "
                            "(2xx), refused (another status), failed (no answer), unaudited "
                            "(its audit event was not durable in time: not sent)")
                      .Register(metrics.registry())),
      backlog_(prometheus::BuildGauge()
                   .Name("lgsp_changes_webhook_backlog")
                   .Help("Offsets of the changes topic this gateway holds beyond a partner's "
                         "webhook cursor (changes of kinds it does not read count too)")
                   .Register(metrics.registry())) {
  targets_ = targets_of(cfg);
}

std::vector<WebhookDispatcher::Target> WebhookDispatcher::targets_of(const config::Config& cfg) {
  std::vector<Target> targets;
  for (const auto& p : cfg.partners) {
    if (!p.webhook.enabled()) continue;
    const auto url = std::get<util::HttpUrl>(util::parse_http_url(p.webhook.url));
    Target t;
    t.partner_id = p.id;
    t.purpose = p.webhook.purpose;
    t.kinds = readable_kinds(p.changes);
    for (const auto& [k, _] : t.kinds) t.kind_keys.insert(k);
    t.target = url.base_path.empty() ? "/" : "";
    util::HttpClientOptions options;
    options.ca_file = p.webhook.ca_file;
    options.idle_timeout = timeout_;
    options.max_body = std::size_t{1} << 20;  // the partner's answer is read and dropped
    // A connection per POST: a partner's server may close an idle one at any time, and a
    // POST is not sent twice on a guess.
    options.keep_alive = false;
    options.user_agent = "lgsp-webhook";
    t.client = std::make_unique<util::HttpClient>(url, options);
    t.secret = std::make_unique<util::HmacSha256>(p.webhook.secret);
    t.cursor = feed_.store().webhook_cursor(p.id);
    t.backlog = &backlog_.Add({{"partner", p.id}});
    for (const char* outcome : {"delivered", "refused", "failed", "unaudited"})
      deliveries_.Add({{"partner", p.id}, {"outcome", outcome}});
    targets.push_back(std::move(t));
  }
  return targets;
}

void WebhookDispatcher::reload(const config::Config& cfg) {
  // Under the lock: the cursors read are those the last round stored.
  const std::lock_guard lock(mu_);
  targets_ = targets_of(cfg);
}

WebhookDispatcher::~WebhookDispatcher() { stop(); }

void WebhookDispatcher::start() {
  // Even with no webhook yet: a reload may add one.
  if (thread_.joinable()) return;
  thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
}

void WebhookDispatcher::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

std::string WebhookDispatcher::signature(const util::HmacSha256& secret, std::int64_t unix_s,
                                         const std::string& body) {
  const std::string t = std::to_string(unix_s);
  const auto mac = secret.digest(t + "." + body);
  return "t=" + t + ",v1=" + util::to_hex(mac.data(), mac.size());
}

void WebhookDispatcher::run(const std::stop_token& stop) {
  while (!stop.stop_requested()) {
    bool busy = false;
    const auto now = std::chrono::steady_clock::now();
    std::unique_lock lock(mu_);
    for (auto& t : targets_) {
      if (stop.stop_requested()) return;
      const std::int64_t high = feed_.store().high();
      t.backlog->Set(static_cast<double>(std::max<std::int64_t>(0, high - t.cursor)));
      if (high <= t.cursor || now < t.next_attempt) continue;
      try {
        busy = deliver(t) || busy;
      } catch (const std::exception& e) {  // the store: retried like a failed POST
        failed(t, "failed", e.what());
      }
    }
    lock.unlock();
    if (!busy) std::this_thread::sleep_for(kLookEvery);
  }
}

void WebhookDispatcher::failed(Target& t, std::string_view outcome, const std::string& why) {
  deliveries_.Add({{"partner", t.partner_id}, {"outcome", std::string(outcome)}}).Increment();
  ++t.failures;
  const auto backoff = std::min<std::chrono::seconds>(
      max_backoff_, std::chrono::seconds(std::int64_t{1} << std::min(t.failures - 1, 20)));
  t.next_attempt = std::chrono::steady_clock::now() + backoff;
  obs::warn("change_webhook_failed", {{"partner", t.partner_id},
                                      {"outcome", outcome},
                                      {"error", why},
                                      {"attempts", t.failures},
                                      {"retry_in_s", static_cast<std::int64_t>(backoff.count())}});
}

bool WebhookDispatcher::audited(const Target& t, const std::string& delivery_id,
                                const std::vector<std::string>& subjects,
                                const std::set<std::string>& released) {
  if (audit_ == nullptr) return true;  // audit off: benchmarks only
  bus::v1::AuditEvent e;
  e.set_event_id(http::new_request_id());
  e.set_request_id(delivery_id);
  e.set_time_unix_ms(util::unix_ms_now());
  e.set_partner_id(t.partner_id);
  e.set_operation("changes.webhook");
  std::set<std::string> hashes;
  for (const auto& s : subjects) hashes.insert(hasher_->hash(s));
  for (const auto& h : hashes) e.add_subject_hashes(h);
  e.set_purpose(t.purpose);
  for (const auto& f : released) e.add_fields_released(f);
  e.set_outcome("ok");
  e.set_http_status(200);
  auto durable = std::make_shared<std::promise<bool>>();
  auto done = durable->get_future();
  audit_->send(std::move(e), [durable](bool ok) { durable->set_value(ok); });
  return done.wait_for(kAuditWait) == std::future_status::ready && done.get();
}

bool WebhookDispatcher::deliver(Target& t) {
  if (!t.pending) t.pending = feed_.store().read(t.cursor, t.kind_keys, batch_);
  const Page& page = *t.pending;
  if (page.expired) {
    // Down longer than the retention: what was deleted is lost to it. Said loudly, then on
    // from the oldest change kept.
    obs::error(
        "change_webhook_gap",
        {{"partner", t.partner_id}, {"cursor", t.cursor}, {"purged_through", page.purged_through}});
    t.cursor = page.purged_through;
    t.pending.reset();
    feed_.store().set_webhook_cursor(t.partner_id, t.cursor);
    return true;
  }
  if (page.changes.empty()) {
    // Only changes of kinds it does not read: nothing to send, the cursor moves past them.
    const std::int64_t next = page.next;
    t.pending.reset();
    if (next > t.cursor) {
      t.cursor = next;
      feed_.store().set_webhook_cursor(t.partner_id, t.cursor);
    }
    return false;
  }
  json::array changes;
  std::set<std::string> released;
  std::vector<std::string> subjects;
  for (const auto& c : page.changes) {
    changes.push_back(change_json(c, t.kinds.at(c.registry + "." + c.kind), released));
    subjects.push_back(c.citizen_id);
  }
  // The same id and changes for every attempt: the partner can tell a retry.
  const std::string delivery_id = "whk-" + t.partner_id + "-" +
                                  std::to_string(page.changes.front().offset) + "-" +
                                  std::to_string(page.changes.back().offset);
  const std::string body = json::serialize(json::object{{"delivery_id", delivery_id},
                                                        {"purpose", t.purpose},
                                                        {"changes", std::move(changes)},
                                                        {"next", std::to_string(page.next)}});
  if (!audited(t, delivery_id, subjects, released)) {
    failed(t, "unaudited", "the delivery's audit event was not durable in time");
    return false;
  }
  const auto now_s = util::unix_ms_now() / 1000;
  util::HttpAnswer answer;
  try {
    answer = t.client->call("POST", t.target,
                            {{"Content-Type", "application/json"},
                             {"X-LGSP-Delivery", delivery_id},
                             {"X-LGSP-Signature", signature(*t.secret, now_s, body)}},
                            body, std::chrono::steady_clock::now() + timeout_);
  } catch (const util::TransportError& e) {
    failed(t, "failed", e.what());
    return false;
  }
  if (answer.status < 200 || answer.status >= 300) {
    failed(t, "refused", "answered HTTP " + std::to_string(answer.status));
    return false;
  }
  deliveries_.Add({{"partner", t.partner_id}, {"outcome", "delivered"}}).Increment();
  const auto now_ms = util::unix_ms_now();
  for (const auto& c : page.changes)
    feed_.delivered(static_cast<double>(now_ms - c.time_unix_ms) / 1000.0);
  t.failures = 0;
  t.next_attempt = {};
  t.cursor = page.next;
  t.pending.reset();  // `page` ends here
  feed_.store().set_webhook_cursor(t.partner_id, t.cursor);
  return true;
}

}  // namespace lgsp::changes
