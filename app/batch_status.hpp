#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace lgsp::app {

/// A bulk job's status as `GET /v1/batches/{id}` answers it (the members the CLI uses).
struct BatchStatus {
  struct Counts {
    std::int64_t total = 0, done = 0, matched = 0, mismatched = 0, not_found = 0, invalid = 0,
                 failed = 0;
  };
  std::string id;
  std::string state;  // queued | running | completed | failed | cancelled
  Counts counts;
  double rate_per_second = 0;
  std::optional<double> eta_seconds;  // unknown until the job has a rate

  /// The job will not change any more.
  bool finished() const {
    return state == "completed" || state == "failed" || state == "cancelled";
  }
};

/// Parses a job status body; the error names what is missing or malformed.
std::variant<BatchStatus, std::string> parse_batch_status(std::string_view body);

/// 1234567 -> "1,234,567".
std::string group_thousands(std::int64_t n);

/// Seconds left as "0:44", "12:05", "1:02:03"; unknown (or not a finite number) as "--:--".
std::string format_eta(std::optional<double> seconds);

/// The progress line for a terminal (redrawn in place):
/// `[#########...........]  45.2%  452,000/1,000,000  12,345 rec/s  ETA 0:44  matched ...`.
std::string progress_bar_line(const BatchStatus& s);

/// One line per poll when the output is not a terminal (logs, CI), easy to grep and parse:
/// `state=running done=452000 total=1000000 rate=12345 eta_s=44`.
std::string progress_plain_line(const BatchStatus& s);

/// The last line once the job has finished (`tty`: for people; else key=value).
std::string summary_line(const BatchStatus& s, bool tty);

/// An error answer as lines for stderr: `error: <status> <title>: <detail>` and one
/// `  <field>: <detail>` per field error (problem+json); otherwise the status and reason.
std::vector<std::string> problem_lines(int status, std::string_view body);

}  // namespace lgsp::app
