#pragma once

#include <pthread.h>

#include <string>
#include <string_view>

namespace lgsp::obs {

/// Names the calling thread (cut to the kernel's 15 characters), so `top -H`, `perf` and
/// /proc/PID/task/*/comm tell the gateway's HTTP threads from its bus threads and from
/// the connectors. Call first thing in a thread we start.
inline void name_this_thread(std::string_view name) {
  const std::string cut(name.substr(0, 15));
  pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace lgsp::obs
