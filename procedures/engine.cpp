#include "procedures/engine.hpp"

#include <algorithm>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>

#include "http/request_id.hpp"
#include "observability/log.hpp"
#include "observability/thread_name.hpp"
#include "registries/table.hpp"
#include "util/clock.hpp"

namespace lgsp::procedures {

namespace asio = boost::asio;
namespace v1 = bus::v1;
using namespace std::chrono_literals;

namespace {

constexpr auto kTick = 1s;
constexpr auto kMaxBackoff = 60s;
constexpr auto kPurgeEvery = 1h;

/// A flat JSON object of strings (the input, a step's result); empty when it is not one.
boost::json::object object_of(std::string_view json) {
  boost::system::error_code ec;
  auto v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.as_object());
}

/// A string member of `o`, or nullopt.
std::optional<std::string> member_of(const boost::json::object& o, std::string_view key) {
  const auto* m = o.if_contains(key);
  if (m == nullptr || !m->is_string()) return std::nullopt;
  return std::string(m->as_string());
}

const registries::CommandSpec* spec_of(const config::ProcedureStep& step) {
  const auto* module = registries::find(step.registry);
  return module == nullptr ? nullptr
                           : registries::find_command(module->catalogue().commands, step.command);
}

}  // namespace

Verdict verdict_of(boost::system::error_code ec, const v1::Reply& reply) {
  if (ec) return Verdict::kTransient;
  switch (reply.status()) {
    case v1::STATUS_OK:
      return Verdict::kApplied;
    case v1::STATUS_REJECTED:
    case v1::STATUS_BAD_REQUEST:
    case v1::STATUS_NOT_FOUND:
      return Verdict::kRefused;
    default:
      return Verdict::kTransient;
  }
}

std::optional<std::map<std::string, std::string>> step_args(const config::ProcedureStep& step,
                                                            const config::ProcedureDefinition& def,
                                                            const Procedure& p) {
  // Each source parsed once, however many arguments it feeds.
  std::map<std::string, boost::json::object, std::less<>> sources{{"input", object_of(p.input)}};
  for (std::size_t i = 0; i < def.steps.size() && i < p.steps.size(); ++i)
    sources.emplace(def.steps[i].name, object_of(p.steps[i].result));
  std::map<std::string, std::string> out;
  for (const auto& [arg, source] : step.args) {
    const auto dot = source.find('.');
    const auto it = sources.find(std::string_view(source).substr(0, dot));
    auto value = it == sources.end() ? std::nullopt : member_of(it->second, source.substr(dot + 1));
    if (!value) return std::nullopt;
    out.emplace(arg, std::move(*value));
  }
  return out;
}

ProcedureEngine::ProcedureEngine(EngineOptions options, const config::ProceduresConfig& procedures,
                                 ProcedureStore& store, gateway::BusClient& bus,
                                 gateway::AuditPublisher* audit,
                                 const gateway::SubjectHasher* hasher, obs::Metrics& metrics)
    : options_(options),
      procedures_(procedures),
      store_(store),
      bus_(bus),
      audit_(audit),
      hasher_(hasher),
      finished_(prometheus::BuildCounter()
                    .Name("lgsp_procedures_finished_total")
                    .Help("Procedures that ended, by procedure and state (completed, failed)")
                    .Register(metrics.registry())),
      commands_(prometheus::BuildCounter()
                    .Name("lgsp_procedure_commands_total")
                    .Help("Commands and undos the procedures sent, by registry, command, kind "
                          "(command, undo) and verdict (applied, refused, transient, "
                          "audit_failed)")
                    .Register(metrics.registry())),
      work_(asio::make_work_guard(ioc_)),
      tick_(ioc_) {}

ProcedureEngine::~ProcedureEngine() { stop(); }

void ProcedureEngine::start() {
  thread_ = std::thread([this] {
    obs::name_this_thread("lgsp-procedures");
    schedule_tick();
    asio::post(ioc_, [this] { pass(); });
    ioc_.run();
  });
}

void ProcedureEngine::stop() {
  if (!thread_.joinable()) return;
  asio::post(ioc_, [this] {
    stopping_ = true;
    tick_.cancel();
  });
  ioc_.stop();
  thread_.join();
}

void ProcedureEngine::submit(Procedure p) {
  asio::post(ioc_, [this, p = std::move(p)]() mutable {
    if (stopping_) return;
    const auto& wait = waits_[p.id];
    if (!wait.in_flight && Clock::now() >= wait.not_before) act(std::move(p));
  });
}

void ProcedureEngine::schedule_tick() {
  tick_.expires_after(kTick);
  tick_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    pass();
    schedule_tick();
  });
}

const config::ProcedureDefinition* ProcedureEngine::definition(const Procedure& p) const {
  const auto it = procedures_.definitions.find(p.name);
  return it == procedures_.definitions.end() ? nullptr : &it->second;
}

void ProcedureEngine::pass() {
  if (stopping_) return;
  const auto now = Clock::now();
  if (now >= next_purge_) {
    next_purge_ = now + kPurgeEvery;
    try {
      const auto before =
          util::unix_ms_now() -
          std::chrono::duration_cast<std::chrono::milliseconds>(options_.retention).count();
      if (const auto n = store_.purge(before); n > 0)
        obs::info("procedures_purged", {{"count", n}});
    } catch (const std::exception& e) {
      obs::warn("procedures_not_purged", {{"error", e.what()}});
    }
  }
  std::vector<Procedure> unfinished;
  try {
    unfinished = store_.unfinished();
  } catch (const std::exception& e) {
    obs::error("procedure_store_unreadable", {{"error", e.what()}});
    return;
  }
  for (auto& p : unfinished) {
    auto& wait = waits_[p.id];
    if (wait.in_flight || now < wait.not_before) continue;
    act(std::move(p));
  }
}

void ProcedureEngine::act(Procedure p) {
  const auto* def = definition(p);
  if (def == nullptr || def->steps.size() != p.steps.size()) {
    // The definition changed or was removed under a procedure in progress: nothing to run it
    // by. Left as it is for an operator (logged at each pass would flood: once a minute).
    waits_[p.id].not_before = Clock::now() + kMaxBackoff;
    obs::error("procedure_definition_missing", {{"procedure_id", p.id}, {"name", p.name}});
    return;
  }
  const auto index = static_cast<std::size_t>(p.cursor);
  if (p.state == State::kRunning) {
    if (p.cursor >= static_cast<std::int64_t>(p.steps.size())) return finish(p, State::kCompleted);
    return send(std::move(p), index, false);
  }
  if (p.cursor < 0) return finish(p, State::kFailed);
  send(std::move(p), index, true);
}

void ProcedureEngine::send(Procedure p, std::size_t index, bool undo) {
  const auto& def = *definition(p);
  const auto& step = def.steps[index];
  const auto* spec = spec_of(step);
  v1::Request r;
  r.set_request_id(http::new_request_id());
  r.set_registry(step.registry);
  r.set_operation(v1::OPERATION_COMMAND);
  r.set_command_id(p.id + "/" + step.name + (undo ? "/undo" : ""));
  r.set_partner_id(p.partner_id);
  r.set_purpose(p.purpose);
  r.set_on_behalf_of(p.on_behalf_of);
  r.set_procedure_code(p.procedure_code.empty() ? p.name : p.procedure_code);
  if (undo) {
    r.set_command(std::string(spec->undo));
  } else {
    r.set_command(step.command);
    auto args = step_args(step, def, p);
    if (!args) {
      return refused(std::move(p), index, false,
                     "an earlier step's result lacks a member this step needs", false);
    }
    for (auto& [k, v] : *args) (*r.mutable_args())[k] = std::move(v);
  }
  const auto deadline = Clock::now() + options_.step_timeout;
  r.set_deadline_unix_ms(util::unix_ms_now() + options_.step_timeout.count());
  p.steps[index].attempts += 1;
  waits_[p.id].in_flight = true;
  bus_.async_call(
      std::move(r), {}, deadline,
      asio::bind_executor(ioc_, [this, p = std::move(p), index, undo](boost::system::error_code ec,
                                                                      const v1::Reply& reply) {
        on_answer(p, index, undo, ec, reply);
      }));
}

void ProcedureEngine::on_answer(Procedure p, std::size_t index, bool undo,
                                boost::system::error_code ec, const v1::Reply& reply) {
  waits_[p.id].in_flight = false;
  if (stopping_) return;
  const auto& step = definition(p)->steps[index];
  const std::string command = undo ? std::string(spec_of(step)->undo) : step.command;
  // By value: it outlives this call in the audit event's completion.
  const auto count = [this, registry = step.registry, command,
                      kind = undo ? "undo" : "command"](const char* verdict) {
    commands_
        .Add({{"registry", registry}, {"command", command}, {"kind", kind}, {"verdict", verdict}})
        .Increment();
  };
  const auto verdict = verdict_of(ec, reply);
  if (verdict == Verdict::kRefused) {
    count("refused");
    // The registry looked at the citizen's records to refuse: that too is in the trail.
    if (audit_ != nullptr && hasher_ != nullptr)
      audit_->send(audit_event(p, step, undo, reply, "refused"));
    // Refused: nothing changed in that registry, so the undo starts at the step before.
    return refused(std::move(p), index, undo, reply.detail(), false);
  }
  if (verdict == Verdict::kTransient) {
    count("transient");
    return transient(std::move(p), index, undo, ec ? ec.message() : reply.detail());
  }
  if (audit_ == nullptr || hasher_ == nullptr) return applied(std::move(p), index, undo, reply);
  auto event = audit_event(p, step, undo, reply, undo ? "undone" : "applied");
  waits_[p.id].in_flight = true;
  audit_->send(std::move(event), [this, p, index, undo, reply, count](bool durable) {
    asio::post(ioc_, [=, this]() mutable {
      waits_[p.id].in_flight = false;
      if (stopping_) return;
      if (!durable) {
        count("audit_failed");
        return transient(std::move(p), index, undo, "its audit event was not made durable");
      }
      count("applied");
      applied(std::move(p), index, undo, reply);
    });
  });
}

void ProcedureEngine::transient(Procedure p, std::size_t index, bool undo, const std::string& why) {
  const auto& step = p.steps[index];
  obs::warn("procedure_step_retry", {{"procedure_id", p.id},
                                     {"step", step.name},
                                     {"undo", undo},
                                     {"attempts", step.attempts},
                                     {"error", why}});
  const bool give_up =
      !undo &&
      util::unix_ms_now() - p.created_ms >
          std::chrono::duration_cast<std::chrono::milliseconds>(options_.give_up_after).count();
  if (give_up) {
    std::string detail = "gave up after " + std::to_string(step.attempts) + " attempts: " + why;
    // It may have applied without its answer reaching us: undone with the others.
    return refused(std::move(p), index, false, std::move(detail), true);
  }
  retry_later(p.id);
  // The attempt and its reason, for GET /v1/procedures/{id} and the next process.
  p.steps[index].detail = "retrying: " + why;
  p.steps[index].updated_ms = util::unix_ms_now();
  try {
    store_.save(p, index);
  } catch (const std::exception& e) {
    obs::error("procedure_not_saved", {{"procedure_id", p.id}, {"error", e.what()}});
  }
}

void ProcedureEngine::retry_later(const std::string& id) {
  auto& wait = waits_[id];
  wait.failures = std::min(wait.failures + 1, 16);
  wait.not_before = Clock::now() + std::min<Clock::duration>(
                                       kMaxBackoff, 250ms * (1 << std::min(wait.failures, 8)));
}

void ProcedureEngine::applied(Procedure p, std::size_t index, bool undo, const v1::Reply& reply) {
  auto& wait = waits_[p.id];
  wait.failures = 0;
  auto& st = p.steps[index];
  const auto now = util::unix_ms_now();
  st.updated_ms = now;
  p.updated_ms = now;
  if (!undo) {
    st.state = StepState::kDone;
    st.detail.clear();  // "retrying: …" of earlier attempts
    st.result = reply.answer_json().empty() ? "{}" : reply.answer_json();
    p.cursor = static_cast<std::int64_t>(index) + 1;
    if (p.cursor >= static_cast<std::int64_t>(p.steps.size())) {
      p.state = State::kCompleted;
      p.finished_ms = now;
    }
  } else {
    // A failed step's undo changed nothing it knows of: it stays failed.
    if (st.state == StepState::kDone) {
      st.state = StepState::kUndone;
      st.detail.clear();
    }
    p.cursor = static_cast<std::int64_t>(index) - 1;
    next_undo(p);
  }
  try {
    store_.save(p, index);
  } catch (const std::exception& e) {
    obs::error("procedure_not_saved", {{"procedure_id", p.id}, {"error", e.what()}});
    return retry_later(p.id);
  }
  if (p.state == State::kCompleted || p.state == State::kFailed) {
    finished_.Add({{"procedure", p.name}, {"state", std::string(to_string(p.state))}}).Increment();
    obs::info("procedure_finished", {{"procedure_id", p.id},
                                     {"name", p.name},
                                     {"state", to_string(p.state)},
                                     {"ms", now - p.created_ms}});
    waits_.erase(p.id);
    return;
  }
  act(std::move(p));  // the next step at once, from what was just saved
}

void ProcedureEngine::refused(Procedure p, std::size_t index, bool undo, std::string detail,
                              bool may_have_applied) {
  const auto now = util::unix_ms_now();
  auto& st = p.steps[index];
  st.updated_ms = now;
  p.updated_ms = now;
  if (undo) {
    st.state = StepState::kUndoFailed;
    st.detail = "undo refused: " + detail;
    p.error += (p.error.empty() ? "" : "; ") + std::string("step ") + st.name +
               " could not be undone: an operator must reconcile it";
    obs::error("procedure_undo_refused",
               {{"procedure_id", p.id}, {"step", st.name}, {"detail", detail}});
    p.cursor = static_cast<std::int64_t>(index) - 1;
    next_undo(p);
  } else {
    st.state = StepState::kFailed;
    st.detail = detail;
    const auto from = static_cast<std::int64_t>(index) - (may_have_applied ? 0 : 1);
    compensate(p, from, "step " + st.name + " failed: " + detail);
  }
  try {
    store_.save(p, index);
  } catch (const std::exception& e) {
    obs::error("procedure_not_saved", {{"procedure_id", p.id}, {"error", e.what()}});
    return retry_later(p.id);
  }
  if (p.state == State::kFailed) {
    finished_.Add({{"procedure", p.name}, {"state", "failed"}}).Increment();
    obs::info("procedure_finished",
              {{"procedure_id", p.id}, {"name", p.name}, {"state", "failed"}});
    waits_.erase(p.id);
    return;
  }
  waits_[p.id].failures = 0;
  act(std::move(p));
}

void ProcedureEngine::compensate(Procedure& p, std::int64_t from, std::string error) {
  p.state = State::kCompensating;
  p.error = std::move(error);
  p.cursor = from;
  next_undo(p);
}

void ProcedureEngine::next_undo(Procedure& p) {
  const auto& def = *definition(p);
  while (p.cursor >= 0) {
    const auto i = static_cast<std::size_t>(p.cursor);
    const auto* spec = spec_of(def.steps[i]);
    const auto state = p.steps[i].state;
    const bool touched = state == StepState::kDone || state == StepState::kFailed;
    // A failed step is undone too: a command that kept timing out may have applied.
    if (touched && spec != nullptr && !spec->undo.empty() &&
        !(state == StepState::kFailed && p.steps[i].attempts == 0))
      return;
    --p.cursor;
  }
  p.state = State::kFailed;
  p.finished_ms = util::unix_ms_now();
}

void ProcedureEngine::finish(Procedure& p, State state) {
  p.state = state;
  p.finished_ms = util::unix_ms_now();
  p.updated_ms = p.finished_ms;
  try {
    store_.save(p, 0);
  } catch (const std::exception& e) {
    obs::error("procedure_not_saved", {{"procedure_id", p.id}, {"error", e.what()}});
    return retry_later(p.id);
  }
  finished_.Add({{"procedure", p.name}, {"state", std::string(to_string(state))}}).Increment();
  waits_.erase(p.id);
}

v1::AuditEvent ProcedureEngine::audit_event(const Procedure& p, const config::ProcedureStep& step,
                                            bool undo, const v1::Reply& reply,
                                            const char* outcome) const {
  v1::AuditEvent e;
  e.set_event_id(http::new_request_id());
  e.set_time_unix_ms(util::unix_ms_now());
  // The procedure's id and step: the trail ties every change to the submission.
  e.set_request_id(p.id + "/" + step.name + (undo ? "/undo" : ""));
  e.set_partner_id(p.partner_id);
  e.set_operation(step.registry + "." + (undo ? std::string(spec_of(step)->undo) : step.command));
  std::vector<std::string> hashes;
  for (const auto& id : reply.subject_citizen_ids()) hashes.push_back(hasher_->hash(id));
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  for (auto& h : hashes) e.add_subject_hashes(std::move(h));
  e.set_purpose(p.purpose);
  e.set_on_behalf_of(p.on_behalf_of);
  e.set_procedure_code(p.procedure_code.empty() ? p.name : p.procedure_code);
  e.set_outcome(outcome);
  e.set_http_status(reply.status() == v1::STATUS_OK ? 200 : 409);
  e.set_subject_count(static_cast<std::int64_t>(hashes.size()));
  return e;
}

}  // namespace lgsp::procedures
