#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "gateway/audit_publisher.hpp"
#include "gateway/bus_client.hpp"
#include "observability/metrics.hpp"
#include "procedures/store.hpp"

namespace lgsp::procedures {

struct EngineOptions {
  std::chrono::milliseconds step_timeout{10000};
  std::chrono::seconds give_up_after{3600};
  std::chrono::hours retention{24 * 30};
};

/// How a command's answer counts for its step.
enum class Verdict {
  kApplied,    // OK: the registry applied it (now or before, under the same command id)
  kRefused,    // REJECTED, BAD_REQUEST, NOT_FOUND: it never will; nothing was changed
  kTransient,  // no answer in time, bus or registry unavailable: send it again
};
Verdict verdict_of(boost::system::error_code ec, const bus::v1::Reply& reply);

/// The arguments of `step`'s command from the procedure's input and earlier steps' results
/// (config: "input.<member>", "<step>.<member>"); nullopt when a source is missing (an
/// earlier step's result lacks the member: the registry broke its contract).
std::optional<std::map<std::string, std::string>> step_args(const config::ProcedureStep& step,
                                                            const config::ProcedureDefinition& def,
                                                            const Procedure& p);

/// Runs procedures as sagas over the bus. Each pass takes the store's unfinished procedures
/// and, for each not waiting on an answer or a retry, sends its next command:
/// - running, cursor i < steps: step i's command, command id "<procedure>/<step>". Applied:
///   its audit event (the changed citizen's hash, so their access log lists it), then, once
///   that is durable, the step is done with its result and the cursor moves on (an event
///   that could not be made durable sends the command again: it applies once). Refused: the
///   step failed, the procedure compensates from i. Transient: sent again after a back-off,
///   until give_up_after from the procedure's start; then the step failed and compensation
///   starts at i (the command may have applied: its undo is safe either way).
/// - compensating, cursor j ≥ 0: step j's undo (command id + "/undo"; the registry undoes
///   only what that command did, nothing if it never applied), for steps done or failed
///   whose command has an undo; retried until it answers, however long. Refused: the step is
///   undo_failed and the procedure's error says so. Then j - 1; below 0 the procedure failed.
/// The store is the truth: after a crash the next process sends whatever was unfinished
/// again, and the registries' command ids make every step apply once.
///
/// Threads: its own thread and io_context; the store is thread-safe; bus and audit
/// completions are posted to the io_context. submit() is thread-safe.
class ProcedureEngine {
 public:
  ProcedureEngine(EngineOptions options, const config::ProceduresConfig& procedures,
                  ProcedureStore& store, gateway::BusClient& bus, gateway::AuditPublisher* audit,
                  const gateway::SubjectHasher* hasher, obs::Metrics& metrics);
  ~ProcedureEngine();
  ProcedureEngine(const ProcedureEngine&) = delete;
  ProcedureEngine& operator=(const ProcedureEngine&) = delete;

  void start();
  /// Stops sending; answers still on their way are sent again by the next process.
  void stop();
  /// A procedure was created (stored): start it now rather than at the next tick.
  void submit(Procedure p);
  /// The engine's context (the API runs its store calls there, never on an HTTP thread).
  boost::asio::io_context& context() { return ioc_; }

 private:
  using Clock = std::chrono::steady_clock;
  /// A procedure's wait: an answer in flight, or a retry's time.
  struct Wait {
    bool in_flight = false;
    Clock::time_point not_before{};
    int failures = 0;  // transient ones in a row: the back-off doubles
  };
  void schedule_tick();
  void pass();
  void act(Procedure p);
  void send(Procedure p, std::size_t index, bool undo);
  void on_answer(Procedure p, std::size_t index, bool undo, boost::system::error_code ec,
                 const bus::v1::Reply& reply);
  /// The step's command (or undo) applied and audited: record it and move on.
  void applied(Procedure p, std::size_t index, bool undo, const bus::v1::Reply& reply);
  /// A command or undo failed for good. A command that `may_have_applied` (it kept timing
  /// out) is undone with the steps before it; one the registry refused is not.
  void refused(Procedure p, std::size_t index, bool undo, std::string detail,
               bool may_have_applied);
  /// No answer in time, or the registry or the audit trail unavailable: sent again after a
  /// back-off (the attempt and its reason saved), until give_up_after for a command.
  void transient(Procedure p, std::size_t index, bool undo, const std::string& why);
  /// The store could not save: try the procedure again after a back-off.
  void retry_later(const std::string& id);
  /// Begins compensation from step `from` (inclusive), or ends the procedure when none of
  /// the steps up to it has anything to undo.
  void compensate(Procedure& p, std::int64_t from, std::string error);
  /// Moves the compensation cursor down past steps with nothing to undo; failed at -1.
  void next_undo(Procedure& p);
  void finish(Procedure& p, State state);
  /// The audit event of one answered command or undo: `outcome` applied, undone or refused.
  bus::v1::AuditEvent audit_event(const Procedure& p, const config::ProcedureStep& step, bool undo,
                                  const bus::v1::Reply& reply, const char* outcome) const;
  const config::ProcedureDefinition* definition(const Procedure& p) const;

  EngineOptions options_;
  const config::ProceduresConfig procedures_;
  ProcedureStore& store_;
  gateway::BusClient& bus_;
  gateway::AuditPublisher* audit_;
  const gateway::SubjectHasher* hasher_;
  prometheus::Family<prometheus::Counter>& finished_;
  prometheus::Family<prometheus::Counter>& commands_;

  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer tick_;
  std::thread thread_;
  // Engine thread only.
  std::map<std::string, Wait, std::less<>> waits_;
  Clock::time_point next_purge_{};
  bool stopping_ = false;
};

}  // namespace lgsp::procedures
