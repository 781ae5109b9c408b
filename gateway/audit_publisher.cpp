#include "gateway/audit_publisher.hpp"

#include "observability/log.hpp"

namespace lgsp::gateway {

std::string SubjectHasher::hash(std::string_view citizen_id) const {
  const auto md = hmac_.digest(citizen_id);
  return util::to_hex(md.data(), md.size());
}

AuditPublisher::AuditPublisher(bus::Producer& producer, std::string topic, GatewayProbe& probe)
    : producer_(producer), topic_(std::move(topic)), probe_(probe) {}

void AuditPublisher::start() {
  if (const auto ec = producer_.learn_topic(topic_)) {
    obs::warn("audit_topic_unknown", {{"topic", topic_}, {"error", ec.message()}});
  }
}

bool AuditPublisher::publish(const bus::v1::AuditEvent& event) {
  const auto ec = producer_.produce(
      topic_, -1, event.request_id(), bus::encode(event), {}, [this](rd_kafka_resp_err_t err) {
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          probe_.audit_delivered();
          return;
        }
        probe_.audit_failed();
        obs::error("audit_event_lost", {{"error", rd_kafka_err2str(err)}});
      });
  if (ec) {
    probe_.audit_failed();
    obs::error("audit_event_not_queued",
               {{"request_id", event.request_id()}, {"error", ec.message()}});
    return false;
  }
  probe_.audit_queued();
  return true;
}

bool AuditPublisher::flush(std::chrono::milliseconds timeout) { return producer_.flush(timeout); }

}  // namespace lgsp::gateway
