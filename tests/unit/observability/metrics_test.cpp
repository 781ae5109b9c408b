#include "observability/metrics.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace lgsp::obs {
namespace {

/// The value of an unlabelled sample `name` in text exposition, or -1.
double sample(const std::string& text, const std::string& name) {
  const std::string line_start = name + " ";
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t end = text.find('\n', pos);
    const std::string_view line(text.data() + pos,
                                (end == std::string::npos ? text.size() : end) - pos);
    if (line.substr(0, line_start.size()) == line_start) {
      return std::stod(std::string(line.substr(line_start.size())));
    }
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return -1;
}

TEST(ProcessMetrics, ExportsTheStandardProcessFamilies) {
  Metrics metrics("test");
  std::ifstream keep_open("/proc/self/stat");  // one more descriptor than before
  const std::string text = metrics.serialize();
  EXPECT_GT(sample(text, "process_resident_memory_bytes"), 1e6);
  EXPECT_GT(sample(text, "process_virtual_memory_bytes"),
            sample(text, "process_resident_memory_bytes"));
  EXPECT_GE(sample(text, "process_cpu_seconds_total"), 0);
  EXPECT_GE(sample(text, "process_open_fds"), 4);  // stdin, stdout, stderr, keep_open
  EXPECT_GE(sample(text, "process_max_fds"), sample(text, "process_open_fds"));
  EXPECT_GE(sample(text, "process_threads"), 1);
  // Started within the last hour, by the wall clock.
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_NEAR(sample(text, "process_start_time_seconds"), now, 3600);
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter"), std::string::npos);
}

TEST(Metrics, CollectorsAreServedUntilRemoved) {
  Metrics metrics("test");
  const int id = metrics.add_collector([] {
    prometheus::ClientMetric m;
    m.label = {{"partner", "p1"}};
    m.gauge.value = 7;
    return std::vector<prometheus::MetricFamily>{
        {"lgsp_test_snapshot", "test", prometheus::MetricType::Gauge, {m}}};
  });
  EXPECT_NE(metrics.serialize().find("lgsp_test_snapshot{partner=\"p1\"} 7"), std::string::npos);
  metrics.remove_collector(id);
  EXPECT_EQ(metrics.serialize().find("lgsp_test_snapshot"), std::string::npos);
  EXPECT_NE(metrics.serialize().find("lgsp_build_info{"), std::string::npos);
}

}  // namespace
}  // namespace lgsp::obs
