#pragma once

#include <prometheus/metric_family.h>

#include <vector>

namespace lgsp::obs {

/// The standard `process_*` families every Prometheus client library exports (CPU seconds,
/// resident and virtual memory, open and maximum file descriptors, start time, threads),
/// read from /proc/self at scrape time. Names follow the client-library convention rather
/// than the `lgsp_` prefix so stock dashboards and alerts find them. Empty off Linux.
std::vector<prometheus::MetricFamily> collect_process_metrics();

}  // namespace lgsp::obs
