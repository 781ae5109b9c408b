#include "audit/writer.hpp"

#include <prometheus/histogram.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>

#include "audit/chain.hpp"
#include "bus/client_properties.hpp"
#include "bus/statistics.hpp"
#include "observability/log.hpp"
#include "observability/thread_name.hpp"
#include "util/clock.hpp"

namespace lgsp::audit {

using namespace std::chrono_literals;

AuditRecord to_record(const bus::v1::AuditEvent& e) {
  AuditRecord r;
  r.event_id = e.event_id();
  r.time_unix_ms = e.time_unix_ms();
  r.request_id = e.request_id();
  r.partner_id = e.partner_id();
  r.operation = e.operation();
  r.subject_hashes.assign(e.subject_hashes().begin(), e.subject_hashes().end());
  r.purpose = e.purpose();
  r.on_behalf_of = e.on_behalf_of();
  r.procedure_code = e.procedure_code();
  r.fields_released.assign(e.fields_released().begin(), e.fields_released().end());
  r.outcome = e.outcome();
  r.http_status = e.http_status();
  r.latency_us = e.latency_us();
  r.batch_id = e.batch_id();
  r.subject_count = e.subject_count();
  r.source = e.source();
  r.source_seq = e.source_seq();
  r.withheld_until_ms = e.withheld_until_unix_ms();
  r.withholding_ref = e.withholding_reference();
  r.consent_id = e.consent_id();
  return r;
}

namespace {

prometheus::Counter& records(obs::Metrics& m, const std::string& result) {
  return prometheus::BuildCounter()
      .Name("lgsp_audit_writer_records_total")
      .Help(
          "Audit events consumed, by result: appended, duplicate (redelivered), conflict "
          "(an id already in the chain with other content: kept apart, an alarm), "
          "undecodable")
      .Register(m.registry())
      .Add({{"result", result}});
}

}  // namespace

AuditWriter::AuditWriter(WriterOptions options, std::unique_ptr<AuditStore> store,
                         obs::Metrics& metrics)
    : options_(std::move(options)),
      store_(std::move(store)),
      consumer_(bus::at_least_once_consumer(bus::with_statistics(options_.consumer_properties)),
                options_.group_id,
                [this](std::string_view json) {
                  if (const auto lag = bus::consumer_lag(json)) lag_.Set(static_cast<double>(*lag));
                }),
      appended_(records(metrics, "appended")),
      duplicates_(records(metrics, "duplicate")),
      conflicts_(records(metrics, "conflict")),
      undecodable_(records(metrics, "undecodable")),
      unauthenticated_(records(metrics, "unauthenticated")),
      left_unsigned_(metrics.counter(
          "lgsp_audit_writer_unsigned_appends_total",
          "Appends left unsigned because the chain head was not the one last signed (the chain "
          "was changed by someone without the signing key)")),
      store_errors_(metrics.counter("lgsp_audit_writer_store_errors_total",
                                    "Batches the audit store failed to commit (retried)")),
      chain_length_(
          metrics.gauge("lgsp_audit_writer_chain_length", "Records in the audit hash chain")),
      batch_seconds_(prometheus::BuildHistogram()
                         .Name("lgsp_audit_writer_batch_duration_seconds")
                         .Help("Time to append one batch to the audit store")
                         .Register(metrics.registry())
                         .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.05,
                                                                          0.1, 0.5, 1, 5})),
      lag_(metrics.gauge("lgsp_audit_writer_consumer_lag_messages",
                         "Audit events waiting in the audit topic (librdkafka statistics)")) {
  if (!options_.sealer) options_.sealer = std::make_shared<const util::Sealer>();
  if (options_.signer) {
    store_->sign_heads_with([signer = options_.signer](std::int64_t seq, const std::string& hash) {
      SignedHead head{seq, hash, util::unix_ms_now(), signer->key_id(), {}};
      head.signature = signer->sign(signed_head_message(head));
      return head;
    });
  }
  chain_length_.Set(static_cast<double>(store_->count()));
}

AuditWriter::~AuditWriter() { stop(); }

void AuditWriter::start() {
  consumer_.subscribe({options_.topic});
  thread_ = std::jthread([this](const std::stop_token& st) {
    obs::name_this_thread("lgsp-audit");
    run(st);
  });
  obs::info("audit_writer_started", {{"topic", options_.topic}, {"group", options_.group_id}});
}

void AuditWriter::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
  consumer_.close();
  obs::info("audit_writer_stopped", {{"appended", appended_total_.load()}});
}

void AuditWriter::drain_and_stop(std::chrono::milliseconds max) {
  draining_ = true;
  const auto until = std::chrono::steady_clock::now() + max;
  while (!finished_ && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
  stop();
}

std::string AuditWriter::readiness() const {
  if (!store_ok_) return "the audit store is failing";
  if (!consumer_.joined()) return "not yet assigned the audit topic";
  return {};
}

void AuditWriter::run(const std::stop_token& stop) {
  std::vector<AuditRecord> batch;
  std::map<std::int32_t, std::int64_t> next_offsets;
  while (!stop.stop_requested()) {
    const bool got = gather(batch, next_offsets);
    if (!got && draining_) break;
    if (batch.empty() && next_offsets.empty()) continue;
    // Not stored: the offsets stay, and a restart replays the events.
    if (!store(batch, stop)) break;
    for (const auto& [partition, next] : next_offsets) {
      consumer_.store_offset(options_.topic, partition, next);
    }
    next_offsets.clear();
  }
  finished_ = true;
}

std::optional<bus::v1::AuditEvent> AuditWriter::open_event(const rd_kafka_message_t* msg) {
  const auto opened = options_.sealer->open_as("audit", options_.topic, bus::payload(msg));
  if (!opened) {
    // Not sealed with the audit key: written by someone who is not a gateway.
    unauthenticated_.Increment();
    obs::error("audit_event_unauthenticated",
               {{"partition", msg->partition}, {"offset", msg->offset}});
    return std::nullopt;
  }
  auto event = bus::decode_audit_event(*opened);
  if (!event) {
    undecodable_.Increment();
    obs::error("audit_event_undecodable", {{"partition", msg->partition}, {"offset", msg->offset}});
  }
  return event;
}

bool AuditWriter::gather(std::vector<AuditRecord>& batch,
                         std::map<std::int32_t, std::int64_t>& next_offsets) {
  // Up to max_batch events, for at most max_batch_wait after the first: one transaction for
  // many events.
  bool got = false;
  std::optional<std::chrono::steady_clock::time_point> close_at;
  const auto wait = [&] {
    if (!close_at) return std::chrono::milliseconds(50);
    return std::max(0ms, std::chrono::ceil<std::chrono::milliseconds>(
                             *close_at - std::chrono::steady_clock::now()));
  };
  for (bus::MessagePtr msg = consumer_.poll(wait()); msg; msg = consumer_.poll(wait())) {
    got = true;
    if (!close_at) close_at = std::chrono::steady_clock::now() + options_.max_batch_wait;
    if (msg->err) {
      if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        obs::warn("audit_consume_error", {{"error", rd_kafka_message_errstr(msg.get())}});
      }
      continue;
    }
    next_offsets[msg->partition] = msg->offset + 1;
    if (auto event = open_event(msg.get())) batch.push_back(to_record(*event));
    if (batch.size() >= options_.max_batch || wait() == 0ms) break;
  }
  return got;
}

bool AuditWriter::store(std::vector<AuditRecord>& batch, const std::stop_token& stop) {
  // Retry the same batch until the store takes it: skipping would lose audit events.
  while (!batch.empty()) {
    const auto started = std::chrono::steady_clock::now();
    try {
      const auto done = store_->append(batch);
      batch_seconds_.Observe(util::seconds_since(started));
      appended_.Increment(static_cast<double>(done.appended));
      duplicates_.Increment(static_cast<double>(done.duplicates));
      conflicts_.Increment(static_cast<double>(done.conflicts));
      if (done.left_unsigned) {
        left_unsigned_.Increment();
        obs::error("audit_chain_left_unsigned",
                   {{"detail",
                     "the chain head is not the one this writer last signed: someone without "
                     "the signing key changed the chain; events are kept, the head is not "
                     "signed; run `lgsp audit verify`"}});
      }
      if (done.conflicts > 0) {
        obs::error("audit_event_conflict",
                   {{"events", done.conflicts},
                    {"detail",
                     "an event id already in the chain arrived with other content; "
                     "kept in audit_conflict, not in the chain"}});
      }
      appended_total_ += static_cast<std::int64_t>(done.appended);
      chain_length_.Increment(static_cast<double>(done.appended));
      store_ok_ = true;
      batch.clear();
    } catch (const std::exception& e) {
      store_errors_.Increment();
      if (store_ok_.exchange(false)) obs::error("audit_store_failed", {{"error", e.what()}});
      if (stop.stop_requested()) return false;
      std::this_thread::sleep_for(500ms);
    }
  }
  return true;
}

}  // namespace lgsp::audit
