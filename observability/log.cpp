#include "observability/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <string>

namespace lgsp::obs {
namespace {
std::string g_process = "lgsp";
}

void init_logging(std::string_view process, std::string_view level) {
  g_process = std::string(process);
  spdlog::drop("lgsp");  // idempotent: tests build several stacks in one process
  auto logger = spdlog::stderr_logger_mt("lgsp");
  // The pattern opens the JSON object; log() supplies the rest of the members.
  logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})",
                      spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(std::string(level)));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

void log(spdlog::level::level_enum level, std::string_view event, Fields fields) {
  if (!spdlog::should_log(level)) return;
  boost::json::object o;
  o["process"] = g_process;
  o["event"] = event;
  for (const auto& f : fields) o[f.key] = f.value;
  std::string body = boost::json::serialize(o);
  // Drop the braces: the pattern provides the enclosing object.
  spdlog::log(level, "{}", std::string_view(body).substr(1, body.size() - 2));
}

}  // namespace lgsp::obs
