#include "gateway/gateway.hpp"

#include <unistd.h>

#include <array>
#include <boost/asio/executor_work_guard.hpp>

#include "audit/store.hpp"
#include "bus/client_properties.hpp"
#include "http/request_id.hpp"
#include "observability/log.hpp"
#include "observability/thread_name.hpp"

namespace lgsp::gateway {

namespace {

/// What the gateway seals and opens: each registry's requests and replies, audit events.
std::vector<std::string> sealed_domains(const config::Config& cfg) {
  std::vector<std::string> domains;
  for (const auto& [name, _] : cfg.registries) domains.push_back(name);
  if (cfg.audit.enabled) domains.emplace_back("audit");
  return domains;
}

BusClientOptions bus_options(const config::Config& cfg, const std::string& bootstrap,
                             std::int32_t reply_partition) {
  const std::string client_id =
      "lgsp-gateway-" + std::to_string(reply_partition) + "-" + std::to_string(::getpid());
  std::vector<std::string> registries;
  for (const auto& [name, _] : cfg.registries) registries.push_back(name);
  // Requests and audit events share this producer. An audit event must survive a broker
  // failover: wait for every in-sync replica, and let librdkafka retry without duplicating
  // or reordering. These win over kafka.producer_properties.
  bus::Properties producer = bus::producer_properties(cfg.kafka, bootstrap, client_id);
  producer.emplace_back("acks", "all");
  producer.emplace_back("enable.idempotence", "true");
  return BusClientOptions{bus::Topics{cfg.kafka.topic_prefix}, reply_partition, std::move(producer),
                          bus::consumer_properties(cfg.kafka, bootstrap, client_id),
                          static_cast<std::size_t>(cfg.gateway.max_pending), std::move(registries),
                          static_cast<std::size_t>(cfg.gateway.max_bundle),
                          // Shared by the instances, so a subject's requests take one partition.
                          cfg.audit.subject_key,
                          bus::envelope_sealer(cfg.kafka, sealed_domains(cfg))};
}

/// This process among the replicas, in the cluster store's leases: the host (the pod's name
/// in Kubernetes), the process id and a random part, so a restarted process is someone new.
std::string instance_name() {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  const std::string name = host[0] == '\0' ? "gateway" : host.data();
  return name + "-" + std::to_string(::getpid()) + "-" + http::new_request_id().substr(0, 8);
}

/// In a cluster, a reply partition leased from its store; else none (gateway.instance says).
std::unique_ptr<ReplyPartitionLease> lease_reply_partition(const config::Config& cfg,
                                                           const std::string& instance) {
  if (!cfg.cluster.enabled) return nullptr;
  return std::make_unique<ReplyPartitionLease>(
      cfg.cluster.store.dsn(), bus::Topics{cfg.kafka.topic_prefix}.replies(),
      static_cast<std::int32_t>(cfg.kafka.reply_partitions), instance,
      std::chrono::milliseconds(cfg.cluster.lease_ms));
}

/// The citizen access log's reader of the audit store, or null when no store is configured.
/// Read-only: the gateway's database role may (and should) be SELECT-only.
std::unique_ptr<AccessLogReader> open_access_log(const config::Config& cfg) {
  const auto& store = cfg.audit.store;
  if (store.sqlite_path.empty() && store.dsn().empty()) return nullptr;
  return std::make_unique<AccessLogReader>(
      [store, path = cfg.path] {
        return audit::open_audit_store(store, path, audit::Access::kReadOnly);
      },
      store.backend == "postgres");
}

http::ServerLimits limits(const config::GatewayConfig& g) {
  return {
      static_cast<std::size_t>(g.body_limit_bytes), static_cast<std::size_t>(g.header_limit_bytes),
      std::chrono::milliseconds(g.read_timeout_ms), std::chrono::milliseconds(g.idle_timeout_ms)};
}

}  // namespace

Gateway::Gateway(const config::Config& cfg, const std::string& bootstrap, obs::Metrics& metrics,
                 http::AdminHandler::ReadinessCheck extra_readiness)
    : config_path_(cfg.path),
      cfg_(cfg.gateway),
      probe_(metrics),
      instance_name_(instance_name()),
      reply_lease_(lease_reply_partition(cfg, instance_name_)),
      bus_(bus_options(cfg, bootstrap,
                       reply_lease_ ? reply_lease_->partition()
                                    : static_cast<std::int32_t>(cfg.gateway.instance)),
           probe_),
      verify_guard_({cfg.gateway.failed_verify_limit,
                     std::chrono::seconds(cfg.gateway.failed_verify_window_s)}),
      anonymous_failures_({cfg.gateway.anonymous_failures_per_second}),
      extra_readiness_(std::move(extra_readiness)),
      metrics_(metrics) {
  ApiServices services{bus_, probe_, std::chrono::milliseconds(cfg.gateway.request_deadline_ms)};
  services.verify_guard = &verify_guard_;
  services.anonymous_failures = &anonymous_failures_;
  if (cfg.audit.enabled) {
    if (cfg.audit.subject_key.empty()) {
      throw std::runtime_error(cfg.path +
                               ": audit.subject_key_file (or _env) is required: the gateway "
                               "does not serve partners without an audit trail");
    }
    audit_ = std::make_unique<AuditPublisher>(
        bus_.producer(), bus::Topics{cfg.kafka.topic_prefix}.audit(), probe_,
        AuditPublisherOptions{
            std::chrono::milliseconds(cfg.audit.delivery_timeout_ms), cfg.audit.max_undelivered,
            // A new sequence per process start: the nonce tells two runs of one instance apart.
            "gateway-" + std::to_string(bus_.reply_partition()) + "-" +
                http::new_request_id().substr(0, 12),
            bus_.sealer()});
    services.audit = audit_.get();
  } else {
    obs::warn("audit_disabled", {{"detail", "audit.enabled is false: for benchmarks only"}});
  }
  if (!cfg.audit.subject_key.empty()) start_access_log(cfg, services);
  if (cfg.batches.enabled) {
    const auto& b = cfg.batches;
    batch_store_ = cfg.cluster.enabled ? batch::open_postgres_batch_store(cfg.cluster.store.dsn())
                                       : batch::open_sqlite_batch_store(b.sqlite_path);
    batch_engine_ = std::make_unique<batch::BatchEngine>(
        batch::BatchEngineOptions{
            static_cast<std::size_t>(b.chunk_records),
            static_cast<std::size_t>(b.max_chunks_in_flight),
            static_cast<std::size_t>(b.max_running), std::chrono::milliseconds(b.chunk_timeout_ms),
            std::chrono::seconds(b.stall_timeout_s), std::chrono::hours(b.retention_hours),
            instance_name_, std::chrono::milliseconds(cfg.cluster.lease_ms)},
        *batch_store_, bus_, audit_.get(), hasher_.get(), metrics, &verify_guard_);
    batch_api_ = std::make_unique<batch::BatchApi>(
        batch::BatchLimits{b.max_records, b.max_bytes, b.max_active_jobs_per_partner,
                           b.max_stored_records_per_partner, b.max_invalid_records,
                           b.max_inflation_ratio},
        *batch_store_, *batch_engine_);
    services.batches = batch_api_.get();
  }
  if (cfg.procedures.enabled) {
    const auto& pc = cfg.procedures;
    // In a cluster the replicas share one store, each procedure leased to the one driving it.
    procedure_store_ = cfg.cluster.enabled
                           ? procedures::open_postgres_procedure_store(
                                 cfg.cluster.store.dsn(), instance_name_,
                                 std::chrono::milliseconds(cfg.cluster.lease_ms))
                           : procedures::open_sqlite_procedure_store(pc.sqlite_path);
    procedure_engine_ = std::make_unique<procedures::ProcedureEngine>(
        procedures::EngineOptions{std::chrono::milliseconds(pc.step_timeout_ms),
                                  std::chrono::seconds(pc.give_up_after_s),
                                  std::chrono::hours(pc.retention_hours)},
        pc, *procedure_store_, bus_, audit_.get(), hasher_.get(), metrics);
    procedure_api_ =
        std::make_unique<procedures::ProcedureApi>(pc, *procedure_store_, *procedure_engine_);
    services.procedures = procedure_api_.get();
  }
  if (cfg.changes.enabled) {
    const std::string client_id = "lgsp-gateway-changes-" + std::to_string(::getpid());
    // Its own assignment and its own offset store: nothing to commit to a group.
    auto consumer = bus::consumer_properties(cfg.kafka, bootstrap, client_id);
    consumer.emplace_back("enable.auto.commit", "false");
    change_feed_ = std::make_unique<changes::ChangeFeed>(
        cfg.changes, bus::Topics{cfg.kafka.topic_prefix}.changes(), consumer, bus_.sealer(),
        metrics);
    changes_api_ = std::make_unique<changes::ChangesApi>(*change_feed_);
    services.changes = changes_api_.get();
    webhooks_ = std::make_unique<changes::WebhookDispatcher>(cfg, *change_feed_, audit_.get(),
                                                             hasher_.get(), metrics);
  }
  if (cfg.consents.enabled) {
    consents_ = std::make_unique<consents::ConsentBook>(cfg.consents, metrics);
    services.consents = consents_.get();
  }
  if (cfg.cluster.enabled) {
    cluster_quota_ = std::make_unique<ClusterQuota>(cfg.cluster.store.dsn(), instance_name_);
    services.quota_ledger = cluster_quota_.get();
    services.replicas = &reply_lease_->live_replicas();
  }
  api_handler_ = std::make_shared<ApiHandler>(
      std::make_shared<PartnerDirectory>(cfg.partners, cfg.auth), services);
  api_ = std::make_unique<http::Server>(
      ioc_, cfg_.listen, limits(cfg_), api_handler_,
      cfg_.tls.enabled() ? http::make_tls_context(cfg_.tls) : nullptr);
  admin_ = std::make_unique<http::Server>(ioc_, cfg_.admin_listen, limits(cfg_),
                                          std::make_shared<http::AdminHandler>(
                                              metrics, [this] { return readiness(); },
                                              std::map<std::string, http::AdminHandler::Action>{
                                                  {"/admin/reload", [this] { return reload(); }}}));
  // Last: nothing after it may throw, or the registry would keep a collector of a gateway
  // that was never constructed.
  quota_collector_ = metrics_.add_collector([this] { return quota_families(); });
}

void Gateway::start_access_log(const config::Config& cfg, ApiServices& services) {
  hasher_ = std::make_unique<SubjectHasher>(cfg.audit.subject_key);
  services.hasher = hasher_.get();
  access_log_ = open_access_log(cfg);
  services.access_log = access_log_.get();
  citizen_reads_ = std::make_unique<CitizenReads>(cfg.auth.citizen.daily_reads_per_citizen);
  services.citizen_reads = citizen_reads_.get();
  if (!cfg.auth.citizen.enabled()) {
    obs::warn("access_log_closed",
              {{"detail",
                "auth.citizen is not configured: every access-log read is refused "
                "(a citizen's log opens only with that citizen's token)"}});
  }
}

std::string Gateway::reload() {
  try {
    const config::Config cfg = config::load_config(config_path_);
    auto directory = std::make_shared<PartnerDirectory>(cfg.partners, cfg.auth);
    // Certificates, the partner CA and its revocation lists too (a CRL must be replaced
    // before its next update, or every client certificate fails), for new connections.
    std::shared_ptr<boost::asio::ssl::context> tls;
    if (cfg.gateway.tls.enabled() != cfg_.tls.enabled()) {
      throw std::runtime_error("gateway.tls cannot be turned on or off by a reload; restart");
    }
    if (cfg.gateway.tls.enabled()) tls = http::make_tls_context(cfg.gateway.tls);
    const auto partners = directory->size();
    // Webhooks first: a webhook that cannot be set up (its CA file) refuses the whole reload.
    if (webhooks_) webhooks_->reload(cfg);
    if (tls) api_->set_tls(std::move(tls));
    api_handler_->reload(std::move(directory));
    probe_.reloaded(true);
    obs::info("config_reloaded", {{"config", config_path_}, {"partners", partners}});
    return {};
  } catch (const std::exception& e) {
    probe_.reloaded(false);
    obs::error("config_reload_refused", {{"config", config_path_}, {"reason", e.what()}});
    return std::string("the new configuration was refused and the old one stays in force: ") +
           e.what();
  }
}

Gateway::~Gateway() {
  stop();
  metrics_.remove_collector(quota_collector_);
}

std::vector<prometheus::MetricFamily> Gateway::quota_families() const {
  prometheus::MetricFamily limit{"lgsp_gateway_quota_limit",
                                 "Requests a partner may make per UTC day (its daily_quota)",
                                 prometheus::MetricType::Gauge,
                                 {}};
  prometheus::MetricFamily used{"lgsp_gateway_quota_used",
                                "Requests a partner has made today (UTC) against its quota",
                                prometheus::MetricType::Gauge,
                                {}};
  for (const auto& q : api_handler_->quota_use()) {
    prometheus::ClientMetric m;
    m.label = {{"partner", q.partner_id}};
    m.gauge.value = static_cast<double>(q.limit);
    limit.metric.push_back(m);
    m.gauge.value = static_cast<double>(q.used);
    used.metric.push_back(m);
  }
  if (!reply_lease_) return {limit, used};
  prometheus::MetricFamily replicas{
      "lgsp_gateway_cluster_replicas",
      "Gateway replicas holding a live reply-partition lease, as this one counted at its last "
      "renewal (they share the partners' rate limits)",
      prometheus::MetricType::Gauge,
      {}};
  prometheus::ClientMetric m;
  m.gauge.value = reply_lease_->live_replicas().load();
  replicas.metric.push_back(m);
  return {limit, used, replicas};
}

std::string Gateway::readiness() const {
  std::string why = reply_lease_ ? reply_lease_->readiness() : std::string();
  if (why.empty()) why = bus_.readiness();
  if (why.empty() && extra_readiness_) why = extra_readiness_();
  return why;
}

void Gateway::start() {
  if (reply_lease_) reply_lease_->start();
  bus_.start();
  if (audit_) audit_->start();
  if (batch_engine_) batch_engine_->start();
  if (procedure_engine_) procedure_engine_->start();
  if (change_feed_) change_feed_->start();
  if (webhooks_) webhooks_->start();
  api_->start();
  admin_->start();
  const unsigned n = cfg_.threads > 0 ? static_cast<unsigned>(cfg_.threads)
                                      : std::max(1U, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) {
    threads_.emplace_back([this] {
      obs::name_this_thread("lgsp-http");
      ioc_.run();
    });
  }
  obs::info("gateway_started",
            {{"listen", cfg_.listen.host + ":" + std::to_string(api_->port())},
             {"admin", cfg_.admin_listen.host + ":" + std::to_string(admin_->port())},
             {"threads", n},
             {"instance", instance_name_},
             {"reply_partition", bus_.reply_partition()}});
}

void Gateway::stop() {
  if (stopped_) return;
  stopped_ = true;
  obs::info("gateway_stopping", {{"pending", bus_.pending()}});
  api_handler_->drain();
  api_->stop();
  // Bulk jobs send nothing more; their chunks in flight land or are sent again next start.
  if (batch_engine_) batch_engine_->stop();
  // Procedures too: a command on its way is sent again (same command id) next start.
  if (procedure_engine_) procedure_engine_->stop();
  // A webhook POST under way finishes (or times out) first; its cursor moves only on a 2xx.
  if (webhooks_) webhooks_->stop();
  if (change_feed_) change_feed_->stop();
  // Exchanges in flight end by reply or by deadline; wait at most one deadline for them.
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg_.request_deadline_ms + 500);
  while (bus_.pending() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Let the responses of those last exchanges be written.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  bus_.stop();
  admin_->stop();
  // With both acceptors closed and every connection told to finish, the io_context runs
  // out of work and its threads return by themselves; force it after 2 s.
  const auto force_at = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!ioc_.stopped() && std::chrono::steady_clock::now() < force_at) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  // Every handler has returned, so every audit event is queued: deliver them before exit.
  if (audit_ && !audit_->flush(std::chrono::seconds(10))) {
    obs::error("audit_flush_incomplete", {{"undelivered", audit_->undelivered()}});
  }
  obs::info("gateway_stopped");
}

}  // namespace lgsp::gateway
