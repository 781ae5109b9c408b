#include "registries/commands.hpp"

#include <algorithm>
#include <chrono>
#include <set>

#include "domain/citizen_id.hpp"
#include "domain/dates.hpp"
#include "domain/names.hpp"
#include "domain/provinces.hpp"
#include "registries/table.hpp"

namespace lgsp::registries {
namespace {

namespace v1 = bus::v1;
constexpr std::size_t kMaxText = 200;

/// The latest date it is anywhere now (UTC+14): a birth recorded "today" in Vietnam
/// (UTC+7) before 07:00 is not in the future, though UTC is still on yesterday.
std::string today_iso() {
  const std::chrono::year_month_day ymd{std::chrono::floor<std::chrono::days>(
      std::chrono::system_clock::now() + std::chrono::hours(14))};
  return domain::to_iso({static_cast<int>(ymd.year()), static_cast<int>(unsigned(ymd.month())),
                         static_cast<int>(unsigned(ymd.day()))});
}

std::string check_text(std::string& value, bool name) {
  if (value.empty() || value.size() > kMaxText)
    return "must be 1-" + std::to_string(kMaxText) + " bytes";
  auto tidy = domain::tidy_name(value);
  if (!tidy) return "must be valid UTF-8";
  if (tidy->empty()) return name ? "must be a non-empty name" : "must not be blank";
  value = std::move(*tidy);
  return {};
}

}  // namespace

std::string_view kind_name(ArgKind kind) {
  switch (kind) {
    case ArgKind::kName:
      return "name";
    case ArgKind::kDate:
      return "date";
    case ArgKind::kGender:
      return "gender";
    case ArgKind::kCitizenId:
      return "citizen ID";
    case ArgKind::kProvinceCode:
      return "province code";
    case ArgKind::kText:
      break;
  }
  return "text";
}

std::string check_arg(ArgKind kind, std::string& value) {
  switch (kind) {
    case ArgKind::kName:
      return check_text(value, true);
    case ArgKind::kText:
      return check_text(value, false);
    case ArgKind::kDate:
      if (!domain::parse_iso_date(value)) return "must be a calendar date YYYY-MM-DD";
      // ISO dates compare as text.
      if (value > today_iso()) return "must not be in the future";
      return {};
    case ArgKind::kGender:
      if (value == "nam" || value == "Nam") value = "male";
      if (value == "nữ" || value == "Nữ" || value == "nu") value = "female";
      if (value != "male" && value != "female")
        return R"(must be "male" or "female" ("nam"/"nữ" also accepted))";
      return {};
    case ArgKind::kCitizenId:
      return domain::check_citizen_id(value).error;
    case ArgKind::kProvinceCode:
      if (domain::find_province(value) == nullptr)
        return "must be one of the 63 three-digit province codes (e.g. \"001\" Hà Nội)";
      return {};
  }
  return "unknown kind";
}

bool has_member(const CommandSpec& spec, std::string_view member) {
  return std::any_of(spec.args.begin(), spec.args.end(),
                     [&](const CommandArg& a) { return a.name == member; }) ||
         std::find(spec.results.begin(), spec.results.end(), member) != spec.results.end();
}

const CommandSpec* find_change_kind(std::string_view kind) {
  const auto dot = kind.find('.');
  if (dot == std::string_view::npos) return nullptr;
  const Module* module = find(kind.substr(0, dot));
  return module == nullptr ? nullptr
                           : find_command(module->catalogue().commands, kind.substr(dot + 1));
}

const CommandSpec* find_command(std::span<const CommandSpec> commands, std::string_view name) {
  for (const auto& c : commands)
    if (c.name == name) return &c;
  return nullptr;
}

namespace {

/// The request with its arguments checked and normalised, or the problem naming the first
/// argument that is missing, unknown or invalid.
std::string checked_args(const CommandSpec& spec, v1::Request& request) {
  auto& args = *request.mutable_args();
  std::set<std::string_view> known;
  for (const auto& a : spec.args) {
    known.insert(a.name);
    const auto it = args.find(std::string(a.name));
    if (it == args.end()) return "argument " + std::string(a.name) + " is missing";
    if (auto problem = check_arg(a.kind, it->second); !problem.empty())
      return "argument " + std::string(a.name) + " " + problem;
  }
  for (const auto& [name, value] : args) {
    if (!known.contains(name))
      return "argument " + name + " is not one of command " + std::string(spec.name) + "'s";
  }
  return {};
}

}  // namespace

v1::Reply answer_command(std::string_view registry, std::span<const CommandSpec> commands,
                         const v1::Request& request, const ApplyCommand& apply) {
  v1::Reply reply;
  reply.set_request_id(request.request_id());
  reply.mutable_source()->set_registry(std::string(registry));
  const auto* spec = find_command(commands, request.command());
  if (spec == nullptr) {
    connectors::fail(reply, v1::STATUS_BAD_REQUEST,
                     "the " + std::string(registry) + " registry has no command \"" +
                         request.command().substr(0, 64) + "\"");
    return reply;
  }
  if (request.command_id().empty() || request.command_id().size() > 200) {
    connectors::fail(reply, v1::STATUS_BAD_REQUEST, "command_id must be 1-200 bytes");
    return reply;
  }
  v1::Request checked = request;
  if (auto problem = checked_args(*spec, checked); !problem.empty()) {
    connectors::fail(reply, v1::STATUS_BAD_REQUEST, std::move(problem));
    return reply;
  }
  const auto outcome = apply(checked);
  if (!outcome && outcome.error() == boost::system::errc::operation_not_supported) {
    connectors::fail(
        reply, v1::STATUS_BAD_REQUEST,
        "this backend of the " + std::string(registry) + " registry does not accept commands");
    return reply;
  }
  if (!outcome) {
    connectors::fail_store(reply, registry, outcome.error());
    return reply;
  }
  if (outcome->rejected) {
    connectors::fail(reply, v1::STATUS_REJECTED, outcome->detail);
    return reply;
  }
  reply.set_status(v1::STATUS_OK);
  reply.set_answer_json(outcome->result.empty() ? "{}" : outcome->result);
  if (!outcome->citizen_id.empty()) reply.add_subject_citizen_ids(outcome->citizen_id);
  return reply;
}

}  // namespace lgsp::registries
