#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>

namespace lgsp::connectors {

/// Which offsets of each partition may be committed: requests finish out of order (their
/// replies are delivered asynchronously), but a commit must never pass a request that is
/// still in flight, or a crash would lose it. Single-threaded.
class OffsetTracker {
 public:
  /// A message at `offset` of `partition` started processing.
  void begin(std::int32_t partition, std::int64_t offset);
  /// It finished (reply delivered, or dropped for good). Returns the offset to store (the
  /// next one to consume) when the committable point moved, else nullopt.
  std::optional<std::int64_t> done(std::int32_t partition, std::int64_t offset);
  std::size_t in_flight() const;

 private:
  struct Part {
    std::set<std::int64_t> in_flight;
    std::int64_t highest_done = -1;
    std::int64_t committable = -1;
  };
  std::map<std::int32_t, Part> parts_;
};

}  // namespace lgsp::connectors
