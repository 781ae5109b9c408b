#include "bus/statistics.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace lgsp::bus {

std::optional<std::int64_t> consumer_lag(std::string_view statistics_json) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(statistics_json, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto* topics = v.as_object().if_contains("topics");
  if (topics == nullptr || !topics->is_object()) return std::nullopt;
  std::int64_t total = 0;
  bool any = false;
  for (const auto& [topic, t] : topics->as_object()) {
    const auto* partitions = t.is_object() ? t.as_object().if_contains("partitions") : nullptr;
    if (partitions == nullptr || !partitions->is_object()) continue;
    for (const auto& [id, p] : partitions->as_object()) {
      if (id == "-1" || !p.is_object()) continue;
      const auto* lag = p.as_object().if_contains("consumer_lag");
      if (lag == nullptr || !lag->is_int64() || lag->as_int64() < 0) continue;
      total += lag->as_int64();
      any = true;
    }
  }
  return any ? std::optional(total) : std::nullopt;
}

}  // namespace lgsp::bus
