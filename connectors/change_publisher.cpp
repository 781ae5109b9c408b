#include "connectors/change_publisher.hpp"

#include <exception>

#include "bus/envelope.hpp"
#include "observability/log.hpp"

namespace lgsp::connectors {

namespace {
constexpr std::size_t kMaxPerSend = 64;
constexpr auto kLookEvery = std::chrono::milliseconds(100);
}  // namespace

ChangePublisher::ChangePublisher(std::string registry, const std::string& outbox_path,
                                 std::string topic, bus::Producer& producer,
                                 std::shared_ptr<const util::Sealer> sealer, ConnectorProbe& probe)
    : registry_(std::move(registry)),
      outbox_(outbox_path),
      topic_(std::move(topic)),
      producer_(producer),
      sealer_(std::move(sealer)),
      probe_(probe) {}

bool ChangePublisher::queue(const bus::v1::ChangeEvent& event) {
  try {
    outbox_.add(event);
    return true;
  } catch (const std::exception& e) {
    obs::error("connector_change_outbox_failed", {{"registry", registry_}, {"error", e.what()}});
    return false;
  }
}

void ChangePublisher::settle() {
  try {
    outbox_.remove(acknowledged_);
    acknowledged_.clear();
  } catch (const std::exception& e) {
    // Sent again at the next start; the gateway keeps one copy per event id.
    obs::warn("connector_change_outbox_failed", {{"registry", registry_}, {"error", e.what()}});
  }
}

void ChangePublisher::pump(bool nudged) {
  if (in_flight_ > 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (!nudged && acknowledged_.empty() && !failed_ && now < next_look_) return;
  next_look_ = now + kLookEvery;
  settle();
  try {
    // After a failed send, everything still queued goes again, oldest first.
    if (failed_) last_sent_ = 0;
    failed_ = false;
    const auto pending = outbox_.after(last_sent_, kMaxPerSend);
    probe_.outbox(pending.size() < kMaxPerSend ? static_cast<std::int64_t>(pending.size())
                                               : outbox_.waiting());
    const std::string context = bus::change_context(topic_);
    for (const auto& change : pending) {
      const std::int64_t seq = change.seq;
      const auto ec = producer_.produce(
          topic_, 0, registry_, sealer_->seal(registry_, context, change.event), {},
          [this, seq](rd_kafka_resp_err_t err) {
            --in_flight_;
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
              acknowledged_.push_back(seq);
              probe_.change("published");
            } else {
              failed_ = true;
              probe_.change("failed");
              obs::warn("connector_change_not_published",
                        {{"registry", registry_}, {"error", rd_kafka_err2str(err)}});
            }
          });
      if (ec) {
        failed_ = true;
        probe_.change("failed");
        obs::warn("connector_change_not_queued",
                  {{"registry", registry_}, {"error", ec.message()}});
        break;
      }
      ++in_flight_;
      last_sent_ = seq;
    }
  } catch (const std::exception& e) {
    // The registry file is busy or broken: the queue waits, nothing is lost (counted as a
    // failed send, so the outbox alert sees it).
    probe_.change("failed");
    obs::warn("connector_change_outbox_failed", {{"registry", registry_}, {"error", e.what()}});
  }
}

}  // namespace lgsp::connectors
