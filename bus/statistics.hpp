#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace lgsp::bus {

/// The consumer lag in librdkafka's statistics JSON (STATISTICS.md): the sum of
/// `consumer_lag` over the partitions this client fetches, skipping the internal
/// "-1" partition and partitions whose lag is not known yet (-1). nullopt when the JSON
/// cannot be read or holds no partition with a known lag.
std::optional<std::int64_t> consumer_lag(std::string_view statistics_json);

}  // namespace lgsp::bus
