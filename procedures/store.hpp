#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lgsp::procedures {

/// A procedure's life: running (steps applied in order) → completed; or, once a step failed
/// for good, compensating (the undo commands of the steps up to it, in reverse) → failed.
enum class State { kRunning, kCompensating, kCompleted, kFailed };
std::string_view to_string(State s);
std::optional<State> state_from(std::string_view s);

/// A step: pending (not applied yet), done (applied; `result` holds what it produced),
/// failed (its command was refused, or kept failing past the procedure's give-up time),
/// undone (applied, then undone), undo_failed (its undo was refused: an operator must look).
enum class StepState { kPending, kDone, kFailed, kUndone, kUndoFailed };
std::string_view to_string(StepState s);
std::optional<StepState> step_state_from(std::string_view s);

struct Step {
  std::string name;
  StepState state = StepState::kPending;
  std::int64_t attempts = 0;  // commands (and undos) sent
  std::string result;         // JSON object from the registry; "" until done
  std::string detail;         // why it failed; never personal data
  std::int64_t updated_ms = 0;
};

struct Procedure {
  std::string id;
  std::string name;
  std::string partner_id;
  std::string idempotency_key;  // "" = none
  std::string fingerprint;      // of the submission, to refuse a reused key with other input
  std::string request_id;       // of the submission
  std::string purpose;
  std::string on_behalf_of;
  std::string procedure_code;
  std::string input;  // JSON object of the checked input members
  State state = State::kRunning;
  /// Running: the next step to apply. Compensating: the next step to undo (-1: none left).
  std::int64_t cursor = 0;
  std::string error;  // why it failed; never personal data
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
  std::int64_t finished_ms = 0;
  std::vector<Step> steps;
};

/// Where procedures are kept. The engine is the only writer of a running procedure's state;
/// the API creates and reads. Implementations are thread-safe.
///
/// Several gateways may share one store (PostgreSQL, with a cluster section): each procedure
/// then has an owner, the gateway that drives it, holding a lease it renews at every
/// unfinished() call; a gateway that stops renewing (killed) loses its procedures to the
/// next one that asks once the lease has run out, and its saves are refused from then on
/// (LostProcedure), so two gateways never both move one procedure on.
class ProcedureStore {
 public:
  virtual ~ProcedureStore() = default;
  /// Stores `p` with its steps pending (owned by this gateway), unless the partner already
  /// has a procedure under the same idempotency key: then returns that one and false.
  virtual std::pair<Procedure, bool> create(const Procedure& p) = 0;
  virtual std::optional<Procedure> get(std::string_view id) = 0;
  /// The running and compensating procedures this gateway drives, oldest first: those it
  /// owns (their leases renewed) and those whose owner's lease has run out (taken over).
  virtual std::vector<Procedure> unfinished() = 0;
  /// Writes the procedure's state, cursor, error and times, and its step `index`, in one
  /// transaction (the engine's one write per event). Throws LostProcedure when another
  /// gateway has taken the procedure over.
  virtual void save(const Procedure& p, std::size_t index) = 0;
  /// Deletes finished procedures that ended before `before_ms`; returns how many.
  virtual std::int64_t purge(std::int64_t before_ms) = 0;
};

/// A save refused because another gateway drives the procedure now.
class LostProcedure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One gateway's store: a SQLite file (WAL, synchronous=FULL: a 202 answered is a procedure
/// kept). Every procedure in it is this gateway's.
std::unique_ptr<ProcedureStore> open_sqlite_procedure_store(const std::string& path);
/// The store the gateways of a cluster share: PostgreSQL, each procedure owned by `owner`
/// (this gateway's instance name) under a lease of `lease`. Creates the tables when missing.
std::unique_ptr<ProcedureStore> open_postgres_procedure_store(const std::string& dsn,
                                                              std::string owner,
                                                              std::chrono::milliseconds lease);

/// The codes a state is stored as, shared by the backends.
inline constexpr const char* kUnfinishedStates = "('running', 'compensating')";

}  // namespace lgsp::procedures
