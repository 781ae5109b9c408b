#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bus/producer.hpp"
#include "connectors/connector_probe.hpp"
#include "registries/backends/change_outbox.hpp"
#include "util/sealing.hpp"

namespace lgsp::connectors {

/// Sends a registry's change outbox to the changes topic (partition 0, in outbox order,
/// sealed with the registry's key) and removes what the cluster acknowledged. A send that
/// fails is sent again from the oldest change still queued; the gateway keeps one copy per
/// event id. Runs on the connector's poll thread: pump() from the loop, whose producer polls
/// serve the delivery reports.
class ChangePublisher {
 public:
  ChangePublisher(std::string registry, const std::string& outbox_path, std::string topic,
                  bus::Producer& producer, std::shared_ptr<const util::Sealer> sealer,
                  ConnectorProbe& probe);

  /// Sends what is queued when nothing is in flight: at once after `nudged` (a command was
  /// just applied), else every 100 ms.
  void pump(bool nudged);
  /// Queues a change the connector learnt from a command's reply (a registry whose changes
  /// are applied elsewhere, by an upstream system). False when the outbox could not take it.
  bool queue(const bus::v1::ChangeEvent& event);
  /// Removes what the cluster acknowledged, sending nothing more (at shutdown).
  void settle();
  /// Changes sent and not yet acknowledged.
  std::size_t in_flight() const { return in_flight_; }

 private:
  std::string registry_;
  registries::sqlite_rows::ChangeOutbox outbox_;
  std::string topic_;
  bus::Producer& producer_;
  std::shared_ptr<const util::Sealer> sealer_;
  ConnectorProbe& probe_;
  std::int64_t last_sent_ = 0;
  std::size_t in_flight_ = 0;
  std::vector<std::int64_t> acknowledged_;
  bool failed_ = false;
  std::chrono::steady_clock::time_point next_look_{};
};

}  // namespace lgsp::connectors
