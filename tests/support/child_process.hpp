#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lgsp::testing {

/// A child process of the `lgsp` binary under test (LGSP_BINARY) with stderr (its JSON log)
/// in a file, or of another program; killed with SIGKILL if still running at destruction.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& args, std::filesystem::path log);
  /// Any other program (a stand-in), with its stdout and stderr both in `log`.
  ChildProcess(const std::filesystem::path& program, const std::vector<std::string>& args,
               std::filesystem::path log);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  /// SIGKILL and reap: the process gets no chance to flush or say goodbye.
  void kill_hard();
  /// How many log lines so far contain `text` (e.g. "kafka_partitions_assigned").
  int log_count(const std::string& text) const;
  /// The log so far.
  std::string log_text() const;

 private:
  void spawn(const std::string& program, const std::vector<std::string>& args, bool with_stdout);

  pid_t pid_ = -1;
  std::filesystem::path log_;
};

/// A TCP port on loopback that was free a moment ago (for a child process to listen on).
std::uint16_t free_port();

}  // namespace lgsp::testing
