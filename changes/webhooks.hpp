#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "changes/feed.hpp"
#include "config/config.hpp"
#include "gateway/audit_publisher.hpp"
#include "observability/metrics.hpp"
#include "util/hashing.hpp"
#include "util/http_client.hpp"

namespace lgsp::changes {

/// Pushes each partner's change feed to its webhook (partners[].webhook): the same changes,
/// minimised the same way, as GET /v1/changes would answer, in order, a batch per POST.
///
/// - Signed: `X-LGSP-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
///   so the partner can tell a delivery from a forgery and refuse a replayed old one.
/// - At least once: the cursor moves (and is kept in the feed's store) only after a 2xx; any
///   other answer, or none, is retried after 1, 2, 4… seconds up to webhook_max_backoff_s.
///   A retry carries the same `X-LGSP-Delivery` id and the same changes (more may follow
///   them), so the partner can drop what it already has by change id.
/// - Audited first: each POST's audit event (operation changes.webhook, the citizens as
///   subjects) must be durable before the data leaves; when it is not, nothing is sent.
///
/// One thread for every partner (deliveries to one partner are sequential; a slow partner
/// delays the others by at most its timeout per round). A reload takes effect at the next
/// round: a partner whose webhook or grants were removed gets nothing more, narrowed grants
/// narrow the next delivery (its retries included). Thread-safe.
class WebhookDispatcher {
 public:
  WebhookDispatcher(const config::Config& cfg, ChangeFeed& feed, gateway::AuditPublisher* audit,
                    const gateway::SubjectHasher* hasher, obs::Metrics& metrics);
  ~WebhookDispatcher();
  WebhookDispatcher(const WebhookDispatcher&) = delete;
  WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

  void start();
  void stop();
  /// The partners' webhooks and grants from `cfg` (a reloaded config), from the next round.
  void reload(const config::Config& cfg);

  /// The signature header's value for `body` sent at `unix_s` under `secret`.
  static std::string signature(const util::HmacSha256& secret, std::int64_t unix_s,
                               const std::string& body);

 private:
  struct Target {
    std::string partner_id;
    std::string purpose;
    std::map<std::string, std::set<std::string>> kinds;  // readable kinds → members
    std::set<std::string> kind_keys;
    std::string target;  // the request target ("" + the URL's path)
    std::unique_ptr<util::HttpClient> client;
    std::unique_ptr<util::HmacSha256> secret;
    std::int64_t cursor = -1;
    /// The changes of a delivery not answered 2xx yet: its retries send exactly these again,
    /// under the same delivery id.
    std::optional<Page> pending;
    int failures = 0;
    std::chrono::steady_clock::time_point next_attempt{};
    prometheus::Gauge* backlog = nullptr;
  };
  /// The targets of `cfg`'s partners with a webhook, each at its stored cursor.
  std::vector<Target> targets_of(const config::Config& cfg);
  void run(const std::stop_token& stop);
  /// One delivery attempt for `t`: true when something was delivered (more may be waiting).
  bool deliver(Target& t);
  void failed(Target& t, std::string_view outcome, const std::string& why);
  bool audited(const Target& t, const std::string& delivery_id,
               const std::vector<std::string>& subjects, const std::set<std::string>& released);

  ChangeFeed& feed_;
  gateway::AuditPublisher* audit_;
  const gateway::SubjectHasher* hasher_;
  const std::chrono::milliseconds timeout_;
  const std::size_t batch_;
  const std::chrono::seconds max_backoff_;
  std::mutex mu_;  // held by a delivery round; a reload waits for the round to end
  std::vector<Target> targets_;
  prometheus::Family<prometheus::Counter>& deliveries_;
  prometheus::Family<prometheus::Gauge>& backlog_;
  std::jthread thread_;
};

}  // namespace lgsp::changes
