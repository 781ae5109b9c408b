#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "batch/store.hpp"
#include "bus/envelope.hpp"
#include "gateway/audit_publisher.hpp"
#include "gateway/bus_client.hpp"
#include "gateway/verify_guard.hpp"
#include "http/problem.hpp"
#include "observability/metrics.hpp"

namespace lgsp::batch {

struct BatchEngineOptions {
  std::size_t chunk_records = 200;
  std::size_t max_chunks_in_flight = 16;
  std::size_t max_running = 4;
  std::chrono::milliseconds chunk_timeout{30000};
  std::chrono::seconds stall_timeout{3600};
  std::chrono::hours retention{168};
  /// Who this instance is in the store's leases (unique per process), and how long a lease
  /// holds unrenewed: another instance takes over this one's jobs that long after it died.
  std::string owner = "gateway";
  std::chrono::milliseconds lease{15000};
};

/// The result line of one record, from the registry's answer to it (verify), and how it
/// counts. nullopt: the registry could not answer (backend error); the record is sent again.
struct RecordVerdict {
  batch::Outcome outcome;
  std::string line;
};
std::optional<RecordVerdict> verdict_of(std::int64_t line, const bus::v1::Reply& item);
/// The result line of a record that did not validate.
std::string invalid_line(std::int64_t line, const std::vector<http::FieldError>& errors);

/// Runs bulk jobs: claims jobs in the store (queued ones as slots free up, max_running, and
/// those of instances whose lease ran out), renewing its leases, sends their records to
/// the registry's batch topic in chunks (at most max_chunks_in_flight at once over all
/// jobs, round robin between jobs), records each chunk's results in the store, and
/// completes jobs whose every record is answered. The store is the source of truth: a
/// chunk that times out, fails, or was in flight when the process died is simply sent
/// again (the store keeps the first result of a record, so each record ends with exactly
/// one). Each answered chunk produces an audit event with its subjects' hashes, so a
/// citizen's access log lists bulk accesses too; its results are stored (and so become
/// downloadable) only once that event is acknowledged by the cluster.
///
/// Threads: its own thread and io_context; the store is thread-safe and the bus client
/// posts completions to that io_context. wake() is thread-safe.
class BatchEngine {
 public:
  BatchEngine(BatchEngineOptions options, batch::BatchStore& store, gateway::BusClient& bus,
              gateway::AuditPublisher* audit, const gateway::SubjectHasher* hasher,
              obs::Metrics& metrics, gateway::VerifyGuard* verify_guard = nullptr);
  ~BatchEngine();
  BatchEngine(const BatchEngine&) = delete;
  BatchEngine& operator=(const BatchEngine&) = delete;

  /// Claims its first jobs (discarding uploads an instance left unfinished when it died: never
  /// acknowledged), and starts the thread. Call before the API accepts uploads.
  void start();
  /// Stops dispatching, lets chunks in flight land for up to 2 s (those still out are sent
  /// again), and releases its leases for another instance to take over at once.
  void stop();
  /// A job was queued or cancelled: look again now rather than at the next tick.
  void wake();
  /// The lease holder name of this instance, and a new lease's end from `now_ms`: uploads
  /// are created held by it, and renewed by the engine while they arrive.
  const std::string& owner() const { return options_.owner; }
  std::int64_t lease_until(std::int64_t now_ms) const { return now_ms + options_.lease.count(); }

 private:
  struct Active;
  struct Chunk;
  void pass();
  void refresh();
  void housekeeping();
  void dispatch(Active& a, const std::vector<batch::PendingRecord>& rows);
  void on_reply(const std::string& job_id, const Chunk& chunk, boost::system::error_code ec,
                const bus::v1::Reply& reply);
  /// What one answered chunk yields: results to store, subjects it touched, counts.
  /// Who a record was asked for: officer (on_behalf_of) and procedure code.
  using Accountability = std::pair<std::string, std::string>;
  /// The accesses of one chunk that share an officer and procedure: one audit event each.
  struct Accesses {
    std::vector<std::string> subjects;
    std::int64_t records = 0;
  };
  struct ChunkResults {
    std::vector<batch::RecordResult> results;
    std::map<Accountability, Accesses> accesses;
    /// Charged verifications (VerifyGuard) and what their answers told, settled once the
    /// results are stored (refunded if they are not: nobody read them).
    std::vector<std::pair<gateway::VerifyGuard::Charge, gateway::VerifyGuard::Told>> told;
    std::map<batch::Outcome, double> outcomes;
  };
  /// A chunk is no longer in flight (answered and stored, or failed): count it out, go on.
  void landed(const std::string& job_id);
  void count_chunk(const Chunk& chunk, const char* result);
  /// Stores a chunk's results once its audit event is durable (`audited`); otherwise counts
  /// the chunk "audit_failed" and stores nothing, so its records are asked again.
  void store_results(const std::string& job_id, const Chunk& chunk, const ChunkResults& got,
                     bool audited);
  /// The chunk's results from its reply (a record whose backend failed is left for another
  /// try, up to kMaxBackendErrors); false when the reply does not match the chunk.
  bool collect(Active& a, const Chunk& chunk, const bus::v1::Reply& reply, ChunkResults& got);
  /// The audit event of the chunk's accesses for one officer and procedure: their
  /// subjects' hashes, the job's partner, purpose and id.
  bus::v1::AuditEvent audit_event(const Active& a, const Chunk& chunk, const Accountability& who,
                                  const Accesses& accesses) const;
  void schedule_tick();
  /// Charges each record of a chunk to the partner's failed-verification budget; those
  /// refused are answered here with their result ("failed", verify-attempts-exhausted) and
  /// left out (false).
  bool charge(const Active& a, const bus::v1::Request& item, std::int64_t line, Chunk& info,
              std::vector<batch::RecordResult>& refused);
  void refund(const std::vector<std::optional<gateway::VerifyGuard::Charge>>& charges);
  /// Settles the chunk's charges by what their answers told, or refunds them (not stored).
  void settle(const ChunkResults& got, bool stored);

  BatchEngineOptions options_;
  batch::BatchStore& store_;
  gateway::BusClient& bus_;
  gateway::AuditPublisher* audit_;
  const gateway::SubjectHasher* hasher_;
  obs::Metrics& metrics_;
  gateway::VerifyGuard* verify_guard_;
  prometheus::Family<prometheus::Counter>& records_;
  prometheus::Family<prometheus::Counter>& chunks_;
  prometheus::Gauge& chunks_in_flight_;
  int jobs_collector_ = -1;

  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  /// Part of every chunk id: a reply to a chunk of an earlier process (still on its way
  /// when this one started) can never be taken for one of ours.
  std::string epoch_;
  boost::asio::steady_timer tick_;
  std::thread thread_;
  // Engine thread only.
  std::map<std::string, Active, std::less<>> active_;
  std::size_t in_flight_ = 0;
  std::atomic<std::size_t> in_flight_count_{0};  // in_flight_, for stop()
  std::uint64_t next_chunk_ = 0;
  std::chrono::steady_clock::time_point next_housekeeping_{};
  std::chrono::steady_clock::time_point next_claim_{};
  bool refresh_needed_ = true;
  bool stopping_ = false;
};

}  // namespace lgsp::batch
