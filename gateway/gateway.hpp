#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "changes/webhooks.hpp"
#include "config/config.hpp"
#include "gateway/access_log.hpp"
#include "gateway/api_handler.hpp"
#include "gateway/audit_publisher.hpp"
#include "gateway/bus_client.hpp"
#include "gateway/citizen_reads.hpp"
#include "gateway/cluster_quota.hpp"
#include "gateway/gateway_probe.hpp"
#include "gateway/partition_lease.hpp"
#include "gateway/verify_guard.hpp"
#include "http/admin_handler.hpp"
#include "http/server.hpp"
#include "observability/metrics.hpp"

namespace lgsp::gateway {

/// The HTTP front door: API server, admin server, bus client, and the io_context threads
/// (one per core unless configured) that run both servers.
///
/// Lifecycle: construct (validates, loads TLS and JWKS, creates Kafka clients), start()
/// (reaches the bus, binds, serves), reload() any time after (partners, keys, limits),
/// stop() (graceful: refuse new requests, let exchanges in flight finish within their
/// deadline, flush the audit events and the producer, join threads). Not copyable.
class Gateway {
 public:
  /// extra_readiness: further checks for /readyz (the dev process adds its connector's).
  Gateway(const config::Config& cfg, const std::string& bootstrap, obs::Metrics& metrics,
          http::AdminHandler::ReadinessCheck extra_readiness = {});
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  void start();
  void stop();
  std::uint16_t api_port() const { return api_->port(); }
  std::uint16_t admin_port() const { return admin_->port(); }
  std::string readiness() const;
  /// Re-reads the config file and swaps in its partners, keys, limits and JWKS files, and
  /// the TLS certificate, client CA and CRLs for new connections (SIGHUP, POST
  /// /admin/reload). Returns "" on success, else why the new config was refused (the old
  /// one stays in force). Listeners, turning TLS on or off, and Kafka settings need a restart.
  std::string reload();

 private:
  std::vector<prometheus::MetricFamily> quota_families() const;
  /// The subject hasher, the access log and its per-citizen read count, into `services`.
  void start_access_log(const config::Config& cfg, ApiServices& services);

  const std::string config_path_;
  const config::GatewayConfig cfg_;
  boost::asio::io_context ioc_;
  GatewayProbe probe_;
  /// This process among the replicas (leases of reply partitions and bulk jobs).
  const std::string instance_name_;
  /// In a cluster: the reply partition this replica leased (else gateway.instance's).
  std::unique_ptr<ReplyPartitionLease> reply_lease_;
  BusClient bus_;
  std::unique_ptr<SubjectHasher> hasher_;
  std::unique_ptr<AuditPublisher> audit_;
  VerifyGuard verify_guard_;
  AnonymousFailures anonymous_failures_;
  std::unique_ptr<AccessLogReader> access_log_;
  std::unique_ptr<CitizenReads> citizen_reads_;
  // Bulk jobs (when batches are configured); destroyed before the bus client they use.
  std::unique_ptr<batch::BatchStore> batch_store_;
  std::unique_ptr<batch::BatchEngine> batch_engine_;
  std::unique_ptr<batch::BatchApi> batch_api_;
  // Procedures (when configured); destroyed before the bus client they use.
  std::unique_ptr<procedures::ProcedureStore> procedure_store_;
  std::unique_ptr<procedures::ProcedureEngine> procedure_engine_;
  std::unique_ptr<procedures::ProcedureApi> procedure_api_;
  std::unique_ptr<changes::ChangeFeed> change_feed_;
  std::unique_ptr<changes::ChangesApi> changes_api_;
  std::unique_ptr<changes::WebhookDispatcher> webhooks_;
  std::unique_ptr<consents::ConsentBook> consents_;
  /// In a cluster: partners' daily quotas, counted with the other replicas.
  std::unique_ptr<ClusterQuota> cluster_quota_;
  std::shared_ptr<ApiHandler> api_handler_;
  http::AdminHandler::ReadinessCheck extra_readiness_;
  std::unique_ptr<http::Server> api_;
  std::unique_ptr<http::Server> admin_;
  std::vector<std::thread> threads_;
  bool stopped_ = false;
  obs::Metrics& metrics_;
  int quota_collector_ = -1;
};

}  // namespace lgsp::gateway
