#include "batch/engine.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <memory>
#include <set>
#include <utility>

#include "gateway/responses.hpp"
#include "http/request_id.hpp"
#include "observability/log.hpp"
#include "observability/thread_name.hpp"
#include "util/clock.hpp"

namespace lgsp::batch {

using gateway::AuditPublisher;
using gateway::BusClient;
using gateway::CallErrc;
using gateway::grade_name;
using gateway::SubjectHasher;

namespace asio = boost::asio;
namespace json = boost::json;
namespace v1 = bus::v1;
using batch::JobState;
using batch::Outcome;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

/// How long an exhausted job waits before its unanswered records (those of failed chunks)
/// are swept up and sent again.
constexpr auto kResweepDelay = 1s;
constexpr auto kTick = 250ms;
constexpr auto kHousekeeping = 30s;
/// How often the engine renews its leases and looks for jobs (at most; a third of the lease
/// when that is shorter), besides whenever a job of this instance is queued or cancelled.
constexpr auto kClaimEvery = 1s;
/// Backend errors for one record before it is answered `failed`.
constexpr int kMaxBackendErrors = 3;

/// The result of a record that failed for `detail` (it may be submitted again later).
std::string failed_line(std::int64_t line, const std::string& detail) {
  return json::serialize(
      json::object{{"line", line},
                   {"status", "failed"},
                   {"errors", json::array{json::object{{"field", "body"}, {"detail", detail}}}}});
}

/// The result of a record the registry failed to answer kMaxBackendErrors times.
std::string unanswerable_line(std::int64_t line) {
  return failed_line(line, "the registry could not answer this record (" +
                               std::to_string(kMaxBackendErrors) +
                               " attempts); submit it again later");
}

/// What a record's result told the partner, for the failed-verification guard.
gateway::VerifyGuard::Told told_by(Outcome outcome) {
  using Told = gateway::VerifyGuard::Told;
  if (outcome == Outcome::kMismatched) return Told::kMismatch;
  if (outcome == Outcome::kNotFound) return Told::kNoSuchSubject;
  return Told::kNothing;
}

}  // namespace

std::optional<RecordVerdict> verdict_of(std::int64_t line, const v1::Reply& item) {
  json::object o{{"line", line}};
  switch (item.status()) {
    case v1::STATUS_OK: {
      const auto& v = item.verify();
      const Outcome outcome = v.match()           ? Outcome::kMatched
                              : v.subject_found() ? Outcome::kMismatched
                                                  : Outcome::kNotFound;
      o["status"] = batch::to_string(outcome);
      o["subject_found"] = v.subject_found();
      o["match"] = v.match();
      json::object fields;
      for (const auto& f : v.fields()) fields[f.field()] = grade_name(f.grade());
      o["fields"] = std::move(fields);
      // std::map order, so equal answers give byte-equal lines.
      const std::map<std::string, bool> facts(v.facts().begin(), v.facts().end());
      for (const auto& [name, value] : facts) o[name] = value;
      return RecordVerdict{outcome, json::serialize(o)};
    }
    case v1::STATUS_NOT_FOUND:
      o["status"] = "not_found";
      o["subject_found"] = false;
      o["match"] = false;
      return RecordVerdict{Outcome::kNotFound, json::serialize(o)};
    case v1::STATUS_BAD_REQUEST:
      return RecordVerdict{Outcome::kInvalid, invalid_line(line, {{"body", item.detail()}})};
    default:
      return std::nullopt;  // backend error: asked again
  }
}

std::string invalid_line(std::int64_t line, const std::vector<http::FieldError>& errors) {
  json::array list;
  for (const auto& e : errors)
    list.push_back(json::object{{"field", e.field}, {"detail", e.detail}});
  return json::serialize(
      json::object{{"line", line}, {"status", "invalid"}, {"errors", std::move(list)}});
}

struct BatchEngine::Active {
  batch::Job job;
  v1::Request tmpl;
  std::int64_t cursor = 0;  // last line dispatched in this sweep
  std::size_t in_flight = 0;
  bool exhausted = false;  // this sweep reached the end
  bool retired = false;    // no longer running (cancelled, failed): dispatch nothing more
  Clock::time_point resweep_at{};
  /// Records the registry answered with a backend error, and how many times.
  std::map<std::int64_t, int> backend_errors;
};

struct BatchEngine::Chunk {
  std::string id;
  std::string registry;
  std::vector<std::int64_t> lines;
  std::vector<std::string> subjects;  // per item: the citizen ID it names ("" if none)
  /// Per item: the officer and procedure it was asked for (the record's own, else the job's).
  std::vector<Accountability> accountability;
  /// Per item, when a VerifyGuard is on: its charge (refunded unless the answer is a
  /// non-match that gets stored).
  std::vector<std::optional<gateway::VerifyGuard::Charge>> charges;
  Clock::time_point sent;
};

BatchEngine::BatchEngine(BatchEngineOptions options, batch::BatchStore& store, BusClient& bus,
                         AuditPublisher* audit, const SubjectHasher* hasher, obs::Metrics& metrics,
                         gateway::VerifyGuard* verify_guard)
    : options_(std::move(options)),
      store_(store),
      bus_(bus),
      audit_(audit),
      hasher_(hasher),
      metrics_(metrics),
      verify_guard_(verify_guard != nullptr && verify_guard->enabled() ? verify_guard : nullptr),
      records_(prometheus::BuildCounter()
                   .Name("lgsp_batch_records_total")
                   .Help("Bulk-job records answered by the registries, by outcome (a record "
                         "sent again after a timeout may count twice; the results hold one)")
                   .Register(metrics.registry())),
      chunks_(prometheus::BuildCounter()
                  .Name("lgsp_batch_chunks_total")
                  .Help("Bulk-job chunks sent to the registries, by result: ok, timeout, "
                        "failed (not published or no usable answer), audit_failed")
                  .Register(metrics.registry())),
      chunks_in_flight_(prometheus::BuildGauge()
                            .Name("lgsp_batch_chunks_in_flight")
                            .Help("Bulk-job chunks awaiting their registry's answer")
                            .Register(metrics.registry())
                            .Add({})),
      work_(asio::make_work_guard(ioc_)),
      epoch_(http::new_request_id().substr(0, 8)),
      tick_(ioc_) {
  // Every state, even at zero, so a dashboard always finds the series.
  jobs_collector_ = metrics_.add_collector([this] {
    prometheus::MetricFamily f{
        "lgsp_batch_jobs", "Bulk jobs in the store, by state", prometheus::MetricType::Gauge, {}};
    std::map<JobState, std::int64_t> counts;
    for (auto s : {JobState::kUploading, JobState::kQueued, JobState::kRunning,
                   JobState::kCompleted, JobState::kFailed, JobState::kCancelled})
      counts[s] = 0;
    try {
      for (const auto& [state, n] : store_.count_by_state()) counts[state] = n;
    } catch (const std::exception& e) {
      obs::warn("batch_store_unreadable", {{"error", e.what()}});
    }
    for (const auto& [state, n] : counts) {
      prometheus::ClientMetric m;
      m.label = {{"state", std::string(batch::to_string(state))}};
      m.gauge.value = static_cast<double>(n);
      f.metric.push_back(std::move(m));
    }
    return std::vector<prometheus::MetricFamily>{std::move(f)};
  });
}

BatchEngine::~BatchEngine() {
  stop();
  metrics_.remove_collector(jobs_collector_);
}

void BatchEngine::start() {
  refresh();  // before any upload: this store's leftover uploads of a dead instance go now
  thread_ = std::thread([this] {
    obs::name_this_thread("lgsp-batch");
    schedule_tick();
    asio::post(ioc_, [this] { pass(); });
    ioc_.run();
  });
}

void BatchEngine::stop() {
  if (!thread_.joinable()) return;
  asio::post(ioc_, [this] {
    stopping_ = true;
    tick_.cancel();
  });
  // Let the chunks in flight land (their results are then kept) for a moment; any still
  // out are sent again after a restart.
  const auto give_up = Clock::now() + 2s;
  while (in_flight_count_.load() > 0 && Clock::now() < give_up) std::this_thread::sleep_for(10ms);
  ioc_.stop();
  thread_.join();
  // Another instance takes this one's jobs over now rather than a lease later (a rolling
  // update restarts every instance in turn).
  try {
    store_.release(options_.owner);
  } catch (const std::exception& e) {
    obs::warn("batch_leases_not_released", {{"error", e.what()}});
  }
}

void BatchEngine::wake() {
  asio::post(ioc_, [this] {
    refresh_needed_ = true;
    pass();
  });
}

void BatchEngine::schedule_tick() {
  tick_.expires_after(kTick);
  tick_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    pass();
    schedule_tick();
  });
}

void BatchEngine::refresh() {
  refresh_needed_ = false;
  // Well within the lease, so a renewal or two may fail (the store busy) before it lapses.
  next_claim_ = Clock::now() + std::min<Clock::duration>(kClaimEvery, options_.lease / 3);
  const auto claim = store_.claim(options_.owner, util::unix_ms_now(), options_.lease.count(),
                                  options_.max_running);
  // An upload that was still arriving when its instance died was never acknowledged: its
  // client retries (with its Idempotency-Key) and gets a new job.
  for (const auto& job : claim.discarded) {
    obs::info("batch_upload_discarded",
              {{"job", job.id}, {"partner", job.partner_id}, {"instance", job.owner}});
  }
  for (const auto& id : claim.taken_over) {
    obs::warn("batch_job_taken_over", {{"job", id}, {"instance", options_.owner}});
  }
  std::set<std::string, std::less<>> ids;
  for (const auto& job : claim.running) ids.insert(job.id);
  // Finished, cancelled, or (its lease lapsed) another instance's now.
  for (auto& [id, a] : active_) {
    if (!ids.contains(id)) a.retired = true;
  }
  for (const auto& job : claim.running) {
    if (active_.contains(job.id)) continue;
    Active a;
    a.job = job;
    if (!a.tmpl.ParseFromString(job.template_request)) {
      store_.set_state(job.id, JobState::kFailed, util::unix_ms_now(),
                       "the job's stored request template is unreadable");
      obs::error("batch_template_unreadable", {{"job", job.id}});
      continue;
    }
    obs::info("batch_job_running", {{"job", job.id},
                                    {"partner", job.partner_id},
                                    {"registry", job.registry},
                                    {"records", job.counts.total}});
    active_.emplace(job.id, std::move(a));
  }
}

void BatchEngine::housekeeping() {
  next_housekeeping_ = Clock::now() + kHousekeeping;
  const std::int64_t now_ms = util::unix_ms_now();
  const auto retention_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.retention).count();
  if (const auto purged = store_.purge_finished(now_ms - retention_ms); purged > 0) {
    obs::info("batch_jobs_purged", {{"jobs", purged}});
  }
  const auto stall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.stall_timeout).count();
  for (auto& [id, a] : active_) {
    const auto job = store_.find_job(id);
    if (!job || job->state != JobState::kRunning) continue;
    if (now_ms - job->last_progress_ms > stall_ms) {
      const std::string why = "no record was answered for " +
                              std::to_string(options_.stall_timeout.count()) +
                              " s (are the registry's connectors running?)";
      store_.set_state(id, JobState::kFailed, now_ms, why);
      a.retired = true;
      obs::error("batch_job_failed", {{"job", id}, {"reason", why}});
    }
  }
}

void BatchEngine::pass() {
  if (stopping_) return;
  try {
    // Due leases are renewed at every pass, not only at the tick: while chunks land one
    // after another, the tick's handler waits behind theirs on this io_context, and a
    // renewal that waited out the lease would hand this instance's jobs to another.
    if (Clock::now() >= next_claim_) refresh_needed_ = true;
    if (Clock::now() >= next_housekeeping_) housekeeping();
    if (refresh_needed_) refresh();
    // Round robin: one chunk per job per round, until the window is full or all are sent.
    for (bool sent = true; sent && in_flight_ < options_.max_chunks_in_flight;) {
      sent = false;
      for (auto& [id, a] : active_) {
        if (in_flight_ >= options_.max_chunks_in_flight) break;
        if (a.retired || a.exhausted) continue;
        auto rows = store_.pending(id, a.cursor, options_.chunk_records);
        if (rows.empty()) {
          a.exhausted = true;
          a.resweep_at = Clock::now() + kResweepDelay;
          continue;
        }
        a.cursor = rows.back().line;
        dispatch(a, rows);
        sent = true;
      }
    }
    // Jobs that reached the end of their records with nothing in flight: complete, or
    // sweep again for the records whose chunks failed.
    for (auto it = active_.begin(); it != active_.end();) {
      Active& a = it->second;
      if (a.in_flight > 0 || !(a.exhausted || a.retired)) {
        ++it;
        continue;
      }
      const auto job = a.retired ? std::nullopt : store_.find_job(it->first);
      if (!job || job->state != JobState::kRunning) {
        it = active_.erase(it);
        refresh_needed_ = true;
        continue;
      }
      if (job->counts.done >= job->counts.total) {
        store_.set_state(job->id, JobState::kCompleted, util::unix_ms_now());
        obs::info("batch_job_completed", {{"job", job->id},
                                          {"partner", job->partner_id},
                                          {"records", job->counts.total},
                                          {"matched", job->counts.matched},
                                          {"invalid", job->counts.invalid}});
        it = active_.erase(it);
        refresh_needed_ = true;
        continue;
      }
      if (Clock::now() >= a.resweep_at) {
        a.cursor = 0;
        a.exhausted = false;
        asio::post(ioc_, [this] { pass(); });
      }
      ++it;
    }
  } catch (const std::exception& e) {
    // The store failed (disk full, I/O error): nothing is lost, the next tick tries again.
    obs::error("batch_store_failed", {{"error", e.what()}});
  }
}

void BatchEngine::dispatch(Active& a, const std::vector<batch::PendingRecord>& rows) {
  const auto now = Clock::now();
  const std::int64_t deadline_ms =
      util::unix_ms_now() +
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.chunk_timeout).count();
  v1::Request chunk;
  Chunk info;
  info.id = a.job.id + "-" + epoch_ + "-" + std::to_string(++next_chunk_);
  info.registry = a.job.registry;
  info.sent = now;
  chunk.set_request_id(info.id);
  chunk.set_registry(a.tmpl.registry());
  chunk.set_operation(a.tmpl.operation());
  chunk.set_partner_id(a.tmpl.partner_id());
  chunk.set_purpose(a.tmpl.purpose());
  chunk.set_deadline_unix_ms(deadline_ms);
  info.lines.reserve(rows.size());
  info.subjects.reserve(rows.size());
  std::vector<batch::RecordResult> refused;
  for (const auto& row : rows) {
    v1::Request* item = chunk.add_batch();
    *item = a.tmpl;
    if (!item->MergeFromString(row.request)) {
      // Stored by this code at upload; unreadable means the store is damaged.
      chunk.mutable_batch()->RemoveLast();
      obs::error("batch_record_unreadable", {{"job", a.job.id}, {"line", row.line}});
      continue;
    }
    if (!charge(a, *item, row.line, info, refused)) {
      chunk.mutable_batch()->RemoveLast();
      continue;
    }
    item->set_request_id(std::to_string(row.line));
    item->set_deadline_unix_ms(deadline_ms);
    info.lines.push_back(row.line);
    info.subjects.push_back(item->subject_key() == "citizen_id" ? item->subject() : std::string());
    info.accountability.push_back({item->on_behalf_of(), item->procedure_code()});
  }
  if (!refused.empty()) {
    // Nothing was asked for these: no access to audit, just their results.
    store_.record_results(a.job.id, refused, util::unix_ms_now());
    records_.Add({{"registry", a.job.registry}, {"outcome", "failed"}})
        .Increment(static_cast<double>(refused.size()));
  }
  if (info.lines.empty()) return;
  ++in_flight_;
  ++a.in_flight;
  in_flight_count_ = in_flight_;
  chunks_in_flight_.Set(static_cast<double>(in_flight_));
  bus_.async_call(
      std::move(chunk), std::string(), now + options_.chunk_timeout,
      asio::bind_executor(ioc_, [this, job_id = a.job.id, info = std::move(info)](
                                    boost::system::error_code ec, const v1::Reply& reply) {
        on_reply(job_id, info, ec, reply);
      }));
}

bool BatchEngine::charge(const Active& a, const v1::Request& item, std::int64_t line, Chunk& info,
                         std::vector<batch::RecordResult>& refused) {
  if (verify_guard_ == nullptr) return true;
  const auto key = verify_guard_->key(a.job.partner_id, a.job.registry,
                                      item.subject_key() + ':' + item.subject());
  const auto claims = gateway::VerifyGuard::claims_of(item);
  const auto admitted = verify_guard_->attempt(key, claims, Clock::now());
  const auto wait = admitted.wait;
  if (wait.count() == 0) {
    info.charges.push_back(
        admitted.charged ? std::optional(gateway::VerifyGuard::Charge{key, claims}) : std::nullopt);
    return true;
  }
  refused.push_back({line, Outcome::kFailed,
                     failed_line(line, "verify-attempts-exhausted: this partner has had " +
                                           std::to_string(verify_guard_->limit()) +
                                           " verifications of this subject fail lately; submit "
                                           "it again in " +
                                           std::to_string(wait.count()) + " s")});
  return false;
}

void BatchEngine::refund(const std::vector<std::optional<gateway::VerifyGuard::Charge>>& charges) {
  if (verify_guard_ == nullptr) return;
  for (const auto& c : charges) {
    if (c) verify_guard_->settle(*c, gateway::VerifyGuard::Told::kNothing);
  }
}

void BatchEngine::settle(const ChunkResults& got, bool stored) {
  if (verify_guard_ == nullptr) return;
  for (const auto& [charge, told] : got.told) {
    verify_guard_->settle(charge, stored ? told : gateway::VerifyGuard::Told::kNothing);
  }
}

void BatchEngine::on_reply(const std::string& job_id, const Chunk& chunk,
                           boost::system::error_code ec, const v1::Reply& reply) {
  const auto it = active_.find(job_id);
  if (ec) {
    refund(chunk.charges);
    count_chunk(chunk, ec == CallErrc::kTimeout ? "timeout" : "failed");
    if (ec != CallErrc::kStopped) {
      obs::warn("batch_chunk_failed",
                {{"job", job_id}, {"chunk", chunk.id}, {"error", ec.message()}});
    }
    return landed(job_id);
  }
  if (it == active_.end() || it->second.retired) {  // cancelled meanwhile
    refund(chunk.charges);
    return landed(job_id);
  }
  if (reply.status() != v1::STATUS_OK ||
      static_cast<std::size_t>(reply.batch_size()) != chunk.lines.size()) {
    refund(chunk.charges);
    count_chunk(chunk, "failed");
    obs::warn("batch_chunk_unusable", {{"job", job_id},
                                       {"chunk", chunk.id},
                                       {"items", reply.batch_size()},
                                       {"detail", reply.detail()}});
    return landed(job_id);
  }
  Active& a = it->second;
  auto got = std::make_shared<ChunkResults>();
  if (!collect(a, chunk, reply, *got)) {
    refund(chunk.charges);
    count_chunk(chunk, "failed");
    obs::warn("batch_chunk_unusable", {{"job", job_id}, {"chunk", chunk.id}});
    return landed(job_id);
  }
  if (got->results.empty() || audit_ == nullptr || hasher_ == nullptr) {
    store_results(job_id, chunk, *got, true);
    return landed(job_id);
  }
  // The accesses this chunk made must be durable before its results become downloadable;
  // the chunk stays in flight meanwhile. Not durable: not stored, so asked again later.
  // One event per officer and procedure among its records, each naming its own.
  struct Pending {
    std::size_t remaining;
    bool durable = true;
  };
  auto pending = std::make_shared<Pending>(Pending{got->accesses.size()});
  std::size_t n = 0;
  for (const auto& [who, accesses] : got->accesses) {
    auto event = audit_event(a, chunk, who, accesses);
    if (got->accesses.size() > 1) event.set_event_id(chunk.id + "." + std::to_string(++n));
    audit_->send(std::move(event), [this, job_id, chunk, got, pending](bool durable) {
      asio::post(ioc_, [this, job_id, chunk, got, pending, durable] {
        pending->durable = pending->durable && durable;
        if (--pending->remaining > 0) return;
        store_results(job_id, chunk, *got, pending->durable);
        landed(job_id);
      });
    });
  }
}

void BatchEngine::landed(const std::string& job_id) {
  --in_flight_;
  in_flight_count_ = in_flight_;
  chunks_in_flight_.Set(static_cast<double>(in_flight_));
  if (const auto it = active_.find(job_id); it != active_.end()) --it->second.in_flight;
  pass();
}

void BatchEngine::count_chunk(const Chunk& chunk, const char* result) {
  chunks_.Add({{"registry", chunk.registry}, {"result", result}}).Increment();
}

void BatchEngine::store_results(const std::string& job_id, const Chunk& chunk,
                                const ChunkResults& got, bool audited) {
  if (!audited) {
    settle(got, false);  // asked again later
    count_chunk(chunk, "audit_failed");
    return;
  }
  bool stored = false;
  try {
    store_.record_results(job_id, got.results, util::unix_ms_now());
    stored = true;
  } catch (const std::exception& e) {
    obs::error("batch_store_failed", {{"job", job_id}, {"error", e.what()}});
  }
  // Refunded unless stored: only a result the partner can read told it anything.
  settle(got, stored);
  if (!stored) return;
  count_chunk(chunk, "ok");
  for (const auto& [outcome, n] : got.outcomes) {
    records_
        .Add({{"registry", chunk.registry}, {"outcome", std::string(batch::to_string(outcome))}})
        .Increment(n);
  }
}

bool BatchEngine::collect(Active& a, const Chunk& chunk, const v1::Reply& reply,
                          ChunkResults& got) {
  got.results.reserve(chunk.lines.size());
  for (int i = 0; i < reply.batch_size(); ++i) {
    const auto& item = reply.batch(i);
    const std::size_t k = static_cast<std::size_t>(i);
    if (item.request_id() != std::to_string(chunk.lines[k])) return false;
    auto verdict = verdict_of(chunk.lines[k], item);
    const auto& charge = k < chunk.charges.size() ? chunk.charges[k] : std::nullopt;
    if (!verdict) {
      // A backend error: asked again, up to kMaxBackendErrors times; then the record fails
      // alone rather than holding its job until it stalls.
      if (charge) got.told.emplace_back(*charge, gateway::VerifyGuard::Told::kNothing);
      if (++a.backend_errors[chunk.lines[k]] < kMaxBackendErrors) continue;
      a.backend_errors.erase(chunk.lines[k]);
      verdict = RecordVerdict{Outcome::kFailed, unanswerable_line(chunk.lines[k])};
    } else if (charge) {
      got.told.emplace_back(*charge, told_by(verdict->outcome));
    }
    got.outcomes[verdict->outcome] += 1;
    got.results.push_back({chunk.lines[k], verdict->outcome, std::move(verdict->line)});
    auto& accesses = got.accesses[chunk.accountability[k]];
    ++accesses.records;
    if (!chunk.subjects[k].empty()) accesses.subjects.push_back(chunk.subjects[k]);
    for (const auto& id : item.subject_citizen_ids()) accesses.subjects.push_back(id);
  }
  return true;
}

v1::AuditEvent BatchEngine::audit_event(const Active& a, const Chunk& chunk,
                                        const Accountability& who, const Accesses& accesses) const {
  v1::AuditEvent e;
  e.set_event_id(chunk.id);
  e.set_time_unix_ms(util::unix_ms_now());
  e.set_request_id(chunk.id);
  e.set_partner_id(a.job.partner_id);
  e.set_operation(a.job.registry + ".batch-verify");
  std::vector<std::string> hashes;
  hashes.reserve(accesses.subjects.size());
  for (const auto& s : accesses.subjects) hashes.push_back(hasher_->hash(s));
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  for (auto& h : hashes) e.add_subject_hashes(std::move(h));
  e.set_purpose(a.job.purpose);
  e.set_on_behalf_of(who.first);
  e.set_procedure_code(who.second.empty() ? a.job.procedure_code : who.second);
  e.set_outcome("ok");
  e.set_http_status(200);
  e.set_latency_us(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - chunk.sent).count());
  e.set_batch_id(a.job.id);
  e.set_subject_count(accesses.records);
  return e;
}

}  // namespace lgsp::batch
