#include "observability/process_metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace lgsp::obs {

namespace {

prometheus::MetricFamily single(const char* name, const char* help, prometheus::MetricType type,
                                double value) {
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return prometheus::MetricFamily{name, help, type, {m}};
}

/// Seconds since the epoch at which the system booted (/proc/stat "btime").
double boot_time() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double t = 0;
      in >> t;
      return t;
    }
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

}  // namespace

std::vector<prometheus::MetricFamily> collect_process_metrics() {
  std::ifstream in("/proc/self/stat");
  std::string stat;
  if (!in || !std::getline(in, stat)) return {};
  // Field 2 (comm) is parenthesised and may hold spaces: parse from the last ')'.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream fields(stat.substr(close + 2));
  // Fields from 3 (state) on; see proc(5).
  std::vector<std::string> f;
  for (std::string s; fields >> s;) f.push_back(s);
  if (f.size() < 22) return {};
  const auto field = [&f](int n) { return std::stod(f[static_cast<std::size_t>(n - 3)]); };
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));

  std::vector<prometheus::MetricFamily> out;
  out.push_back(single("process_cpu_seconds_total", "Total user and system CPU time spent",
                       prometheus::MetricType::Counter, (field(14) + field(15)) / ticks));
  out.push_back(single("process_resident_memory_bytes", "Resident memory size",
                       prometheus::MetricType::Gauge, field(24) * page));
  out.push_back(single("process_virtual_memory_bytes", "Virtual memory size",
                       prometheus::MetricType::Gauge, field(23)));
  out.push_back(single("process_threads", "Threads in the process", prometheus::MetricType::Gauge,
                       field(20)));
  out.push_back(single("process_start_time_seconds", "Start time since the epoch",
                       prometheus::MetricType::Gauge, boot_time() + field(22) / ticks));

  std::error_code ec;
  double fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  out.push_back(
      single("process_open_fds", "Open file descriptors", prometheus::MetricType::Gauge, fds));
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    out.push_back(single("process_max_fds", "Maximum open file descriptors",
                         prometheus::MetricType::Gauge, static_cast<double>(lim.rlim_cur)));
  }
  return out;
}

}  // namespace lgsp::obs
