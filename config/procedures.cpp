#include "config/procedures.hpp"

#include <algorithm>
#include <set>

#include "registries/commands.hpp"
#include "registries/table.hpp"

namespace lgsp::config {
namespace {

/// Lower-case letters, digits and '-' (procedure and step names: in URLs and command ids).
bool is_name(std::string_view s, char also = '-') {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [also](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == also;
  });
}

/// The procedure being read: its steps so far, to resolve "<step>.<member>".
struct Reading {
  YamlReader& r;
  ProcedureDefinition& def;
  std::vector<const registries::CommandSpec*> specs;  // of the steps read so far
};

/// One argument's source: "input.<member>" (its kind joins the input's) or
/// "<earlier step>.<member of its result>".
void read_source(Reading& in, const YAML::Node& at, const std::string& path,
                 const registries::CommandArg& arg, const std::string& source) {
  const auto dot = source.find('.');
  const std::string head = source.substr(0, dot);
  const std::string member = dot == std::string::npos ? "" : source.substr(dot + 1);
  if (dot == std::string::npos || member.empty()) {
    return in.r.error(at, path, "expected input.<member> or <earlier step>.<result member>");
  }
  if (head == "input") {
    if (!is_name(member, '_'))
      return in.r.error(at, path, "an input member is lower_case_with_underscores");
    const auto [it, fresh] = in.def.input.try_emplace(member, arg.kind);
    if (!fresh && it->second != arg.kind) {
      in.r.error(at, path,
                 "input." + member + " feeds a " + std::string(registries::kind_name(arg.kind)) +
                     " here but a " + std::string(registries::kind_name(it->second)) +
                     " elsewhere");
    }
    return;
  }
  for (std::size_t i = 0; i < in.specs.size(); ++i) {
    if (in.def.steps[i].name != head) continue;
    const auto& results = in.specs[i]->results;
    if (std::find(results.begin(), results.end(), member) == results.end())
      in.r.error(at, path, "step " + head + "'s command has no result member " += member);
    return;
  }
  in.r.error(at, path, "\"" + head + "\" is neither input nor an earlier step");
}

void read_step(Reading& in, const YAML::Node& n, const std::string& path, ProcedureStep& step) {
  auto& r = in.r;
  in.specs.push_back(nullptr);
  if (!r.check_map(n, path, {"name", "registry", "command", "args"})) return;
  r.get(n, path, "name", step.name);
  r.get(n, path, "registry", step.registry);
  r.get(n, path, "command", step.command);
  if (!is_name(step.name)) r.error(n, path + ".name", "required: lower-case letters, digits, -");
  const auto* module = registries::find(step.registry);
  if (module == nullptr) {
    return r.error(
        n["registry"], path + ".registry",
        "unknown registry \"" + step.registry + "\" (known: " + registries::known_names() + ")");
  }
  const auto* spec = registries::find_command(module->catalogue().commands, step.command);
  if (spec == nullptr || spec->args.empty()) {
    return r.error(n["command"], path + ".command",
                   "the " + step.registry + " registry has no command \"" + step.command + "\"");
  }
  in.specs.back() = spec;
  const YAML::Node args = n["args"];
  if (!args || !args.IsMap()) {
    return r.error(n, path + ".args", "required: a mapping of the command's arguments");
  }
  for (const auto& arg : spec->args) {
    const YAML::Node v = args[std::string(arg.name)];
    const std::string apath = path + ".args." += arg.name;
    if (!v) {
      r.error(args, apath, "required by command " + step.command);
      continue;
    }
    std::string source;
    r.get(args, path + ".args", arg.name, source);
    read_source(in, v, apath, arg, source);
    step.args.emplace_back(arg.name, source);
  }
  for (auto it = args.begin(); it != args.end(); ++it) {
    const std::string name = it->first.Scalar();
    if (std::none_of(spec->args.begin(), spec->args.end(),
                     [&](const auto& a) { return a.name == name; }))
      r.error(it->first, path + ".args." += name, "not an argument of command " + step.command);
  }
}

void read_definition(YamlReader& r, const YAML::Node& n, const std::string& path,
                     ProcedureDefinition& def) {
  if (!r.check_map(n, path, {"title", "steps"})) return;
  r.get(n, path, "title", def.title);
  if (def.title.empty()) r.error(n, path + ".title", "required: one line for the docs");
  const YAML::Node steps = n["steps"];
  if (!steps || !steps.IsSequence() || steps.size() == 0) {
    return r.error(n, path + ".steps", "required: a list of at least one step");
  }
  Reading in{r, def, {}};
  std::set<std::string> names;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const std::string spath = path + ".steps[" + std::to_string(i) + "]";
    read_step(in, steps[i], spath, def.steps.emplace_back());
    if (!def.steps.back().name.empty() && !names.insert(def.steps.back().name).second)
      r.error(steps[i]["name"], spath + ".name", "duplicate step name");
  }
}

}  // namespace

void read_procedures(YamlReader& r, const YAML::Node& n, ProceduresConfig& out) {
  const std::string path = "procedures";
  if (!r.check_map(n, path,
                   {"enabled", "sqlite_path", "step_timeout_ms", "give_up_after_s",
                    "retention_hours", "definitions"}))
    return;
  out.enabled = true;
  r.get(n, path, "enabled", out.enabled);
  r.get(n, path, "sqlite_path", out.sqlite_path);
  r.get(n, path, "step_timeout_ms", out.step_timeout_ms, 100, 600000);
  r.get(n, path, "give_up_after_s", out.give_up_after_s, 1, 30LL * 86400);
  r.get(n, path, "retention_hours", out.retention_hours, 1, 24LL * 3650);
  // sqlite_path is checked with the cluster section (config.cpp): a cluster keeps
  // procedures in its shared store instead.
  const YAML::Node defs = n["definitions"];
  if (!defs || !defs.IsMap() || defs.size() == 0) {
    return r.error(n, path + ".definitions", "required: a mapping of procedure name to steps");
  }
  for (auto it = defs.begin(); it != defs.end(); ++it) {
    const std::string name = it->first.Scalar();
    const std::string dpath = path + ".definitions." += name;
    if (!is_name(name)) {
      r.error(it->first, dpath, "a procedure name is lower-case letters, digits and -");
      continue;
    }
    auto& def = out.definitions[name];
    def.name = name;
    read_definition(r, it->second, dpath, def);
  }
}

}  // namespace lgsp::config
