#include "connectors/offset_tracker.hpp"

#include <algorithm>

namespace lgsp::connectors {

void OffsetTracker::begin(std::int32_t partition, std::int64_t offset) {
  parts_[partition].in_flight.insert(offset);
}

std::optional<std::int64_t> OffsetTracker::done(std::int32_t partition, std::int64_t offset) {
  auto it = parts_.find(partition);
  if (it == parts_.end() || it->second.in_flight.erase(offset) == 0) return std::nullopt;
  Part& p = it->second;
  p.highest_done = std::max(p.highest_done, offset);
  const std::int64_t next = p.in_flight.empty() ? p.highest_done + 1 : *p.in_flight.begin();
  if (next <= p.committable) return std::nullopt;
  p.committable = next;
  return next;
}

std::size_t OffsetTracker::in_flight() const {
  std::size_t n = 0;
  for (const auto& [_, p] : parts_) n += p.in_flight.size();
  return n;
}

}  // namespace lgsp::connectors
