#pragma once

#include <span>
#include <string_view>

namespace lgsp::registries {

/// What an argument of a registry command must be. The gateway checks a procedure's input
/// with the kinds of the arguments it feeds, and the registry checks every command again (the
/// bus is not trusted to carry only what the gateway checked).
enum class ArgKind {
  kName,          // a person's name: valid UTF-8, 1-200 bytes, stored in NFC
  kDate,          // YYYY-MM-DD, a real calendar date, not in the future
  kGender,        // "male" | "female" ("nam"/"nữ" accepted, stored as male/female)
  kCitizenId,     // a 12-digit citizen ID whose digits decode
  kProvinceCode,  // one of the 63 three-digit province codes
  kText,          // free text of 1-200 bytes in valid UTF-8 (an address line, a place)
};

struct CommandArg {
  std::string_view name;
  ArgKind kind;
};

/// A command a registry accepts: its arguments (all required), the command that undoes it
/// when a later step of a procedure fails for good ("" when it needs none), and one line for
/// the docs. An undo command takes no arguments: its command id is the undone command's id
/// + "/undo", and the registry finds what to undo in its record of applied commands (nothing,
/// when that command never applied).
struct CommandSpec {
  std::string_view name;
  std::span<const CommandArg> args;
  std::string_view undo;
  std::string_view title;
  /// The members of its result (flat JSON of strings) a later step may use.
  std::span<const std::string_view> results = {};
};

}  // namespace lgsp::registries
