#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "audit/store.hpp"
#include "bus/consumer.hpp"
#include "bus/envelope.hpp"
#include "observability/metrics.hpp"
#include "util/sealing.hpp"
#include "util/signing.hpp"

namespace lgsp::audit {

/// The audit record an event becomes (seq and hashes are the store's to assign).
AuditRecord to_record(const bus::v1::AuditEvent& e);

struct WriterOptions {
  bus::Properties consumer_properties;
  std::string topic;
  std::string group_id = "lgsp-audit-writer";
  std::size_t max_batch = 1000;
  /// How long a batch keeps gathering after its first event. A fetch may bring a handful of
  /// events (the embedded cluster returns one producer batch per fetch); committing each
  /// handful costs an fsync, and in SQLite every index page an event touches is written
  /// whole to the WAL at each commit: a bulk chunk's event adds 200 subjects at random places
  /// of the subject index, so larger transactions write each page once for more of them
  /// (the writer's CPU in a bulk job fell by a fifth from 20 to 200 ms). Events wait this
  /// much longer for the chain and the citizen's access log, never the partner: a partner's
  /// answer waits for the audit topic's acknowledgement, not for this writer.
  std::chrono::milliseconds max_batch_wait{200};
  /// Opens events sealed with the "audit" key; one that is not (a writer to the audit topic
  /// without the key) is counted `unauthenticated` and never reaches the chain. Null: unsealed.
  std::shared_ptr<const util::Sealer> sealer;
  /// Signs the chain head in every append's transaction (audit.signing_key_file), so a chain
  /// rewritten by someone without the key no longer verifies. Null: heads are not signed.
  std::shared_ptr<const util::Ed25519Signer> signer;
};

/// Consumes the audit topic and appends the events to the hash chain in batches (one store
/// transaction per batch). Offsets are stored only after the batch is committed to the store,
/// so a crash replays events rather than losing them, and the store ignores the replayed ones
/// by event id: each event is in the chain exactly once. When the store fails, the same batch
/// is retried (nothing is skipped) until it succeeds or the writer stops.
///
/// Lifecycle: start() runs the loop on its own thread; stop() finishes the batch in hand,
/// commits offsets and leaves the group. Not copyable.
class AuditWriter {
 public:
  AuditWriter(WriterOptions options, std::unique_ptr<AuditStore> store, obs::Metrics& metrics);
  ~AuditWriter();
  AuditWriter(const AuditWriter&) = delete;
  AuditWriter& operator=(const AuditWriter&) = delete;

  void start();
  void stop();
  /// Appends what is waiting on the topic (until a poll finds nothing, at most `max`), then
  /// stops: for a process that has just flushed its own gateway's events (lgsp dev).
  void drain_and_stop(std::chrono::milliseconds max);
  /// "" when consuming and the last store write succeeded, else why not.
  std::string readiness() const;
  std::int64_t appended() const { return appended_total_.load(); }

 private:
  void run(const std::stop_token& stop);
  /// Polls the topic into `batch`; true when anything arrived.
  bool gather(std::vector<AuditRecord>& batch, std::map<std::int32_t, std::int64_t>& next_offsets);
  /// The event a message carries, or nullopt (counted, logged) when it is not sealed with
  /// the audit key or is not an event.
  std::optional<bus::v1::AuditEvent> open_event(const rd_kafka_message_t* msg);
  /// Appends `batch` to the chain, retrying until the store takes it; false when stopped first.
  bool store(std::vector<AuditRecord>& batch, const std::stop_token& stop);

  WriterOptions options_;
  std::unique_ptr<AuditStore> store_;
  bus::Consumer consumer_;
  prometheus::Counter& appended_;
  prometheus::Counter& duplicates_;
  prometheus::Counter& conflicts_;
  prometheus::Counter& undecodable_;
  prometheus::Counter& unauthenticated_;
  prometheus::Counter& left_unsigned_;
  prometheus::Counter& store_errors_;
  prometheus::Gauge& chain_length_;
  prometheus::Histogram& batch_seconds_;
  prometheus::Gauge& lag_;
  std::atomic<bool> store_ok_{true};
  std::atomic<bool> draining_{false};
  std::atomic<bool> finished_{false};
  std::atomic<std::int64_t> appended_total_{0};
  std::jthread thread_;
};

}  // namespace lgsp::audit
