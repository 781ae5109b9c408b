#pragma once

#include <boost/system/result.hpp>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "bus/envelope.hpp"
#include "connectors/registry_service.hpp"
#include "registries/command_spec.hpp"

namespace lgsp::registries {

/// Checks `value` as `kind` and normalises it in place (NFC names, male/female). Returns the
/// problem, worded for the partner and never repeating the value; "" when valid.
std::string check_arg(ArgKind kind, std::string& value);
std::string_view kind_name(ArgKind kind);

const CommandSpec* find_command(std::span<const CommandSpec> commands, std::string_view name);
/// Whether `member` is an argument or a result member of `spec` (a member of its change's data).
bool has_member(const CommandSpec& spec, std::string_view member);
/// The spec of "<registry>.<command>" (a kind of change), or null.
const CommandSpec* find_change_kind(std::string_view kind);

/// What applying a command did. `rejected`: the registry refused it by its rules (nothing
/// changed; `detail` says why, without personal data). Otherwise `result` is the flat JSON
/// object of what it produced, and `citizen_id` the citizen it changed (for the audit).
struct CommandOutcome {
  bool rejected = false;
  std::string detail;
  std::string result;
  std::string citizen_id;
};

/// A registry store's side of commands (its interface derives from this): applies one
/// command of the module's kCommands, already checked, exactly once per command id. The
/// default, for backends that take none: errc::operation_not_supported.
class CommandTarget {
 public:
  virtual ~CommandTarget() = default;
  virtual boost::system::result<CommandOutcome> apply(const bus::v1::Request& command) {
    (void)command;
    return boost::system::errc::make_error_code(boost::system::errc::operation_not_supported);
  }
};

/// A store's way of applying one checked command (its name and arguments in `request`).
using ApplyCommand =
    std::function<boost::system::result<CommandOutcome>(const bus::v1::Request& request)>;

/// The connector's answer to a command: checks the command is one of `commands` with exactly
/// its arguments, each valid (a bad request naming the argument otherwise), then applies it
/// through `apply`: OK with the result, REJECTED, or the store's failure (unavailable or
/// backend error: the procedure tries again with the same command id).
bus::v1::Reply answer_command(std::string_view registry, std::span<const CommandSpec> commands,
                              const bus::v1::Request& request, const ApplyCommand& apply);

}  // namespace lgsp::registries
