#include "batch/store.hpp"

#include <array>
#include <utility>

namespace lgsp::batch {
namespace {

// The names stored in the jobs table and shown in the API: changing one breaks stored jobs.
constexpr std::array<std::pair<JobState, std::string_view>, 6> kStates{{
    {JobState::kUploading, "uploading"},
    {JobState::kQueued, "queued"},
    {JobState::kRunning, "running"},
    {JobState::kCompleted, "completed"},
    {JobState::kFailed, "failed"},
    {JobState::kCancelled, "cancelled"},
}};

}  // namespace

std::string_view to_string(JobState s) {
  for (const auto& [state, name] : kStates) {
    if (state == s) return name;
  }
  return "unknown";
}

std::optional<JobState> job_state_from(std::string_view s) {
  for (const auto& [state, name] : kStates) {
    if (name == s) return state;
  }
  return std::nullopt;
}

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::kMatched:
      return "matched";
    case Outcome::kMismatched:
      return "mismatched";
    case Outcome::kNotFound:
      return "not_found";
    case Outcome::kInvalid:
      return "invalid";
    case Outcome::kFailed:
      return "failed";
  }
  return "unknown";
}

}  // namespace lgsp::batch
