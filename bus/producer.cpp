#include "bus/producer.hpp"

#include <memory>

namespace lgsp::bus {

Producer::Producer(const Properties& props, Polling polling) {
  ConfPtr conf = make_conf(props);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Producer::on_delivery_report);
  rk_ = make_client(RD_KAFKA_PRODUCER, std::move(conf));
  if (polling == Polling::kBackground) {
    poller_ = std::thread([this] {
      while (!stop_.load(std::memory_order_relaxed)) rd_kafka_poll(rk_.get(), 50);
    });
  }
}

Producer::~Producer() {
  rd_kafka_flush(rk_.get(), 10000);
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  // Serve callbacks of whatever flush gave up on, so their closures are freed.
  rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(rk_.get(), 0);
}

void Producer::on_delivery_report(rd_kafka_t*, const rd_kafka_message_t* msg, void*) {
  std::unique_ptr<OnDelivery> cb(static_cast<OnDelivery*>(msg->_private));
  if (cb && *cb) (*cb)(msg->err);
}

boost::system::error_code Producer::produce(const std::string& topic, std::int32_t partition,
                                            std::string_view key, std::string_view value,
                                            const Headers& headers, OnDelivery on_delivery) {
  rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
  for (const auto& h : headers) {
    rd_kafka_header_add(hdrs, h.key.data(), static_cast<ssize_t>(h.key.size()), h.value.data(),
                        static_cast<ssize_t>(h.value.size()));
  }
  auto cb = std::make_unique<OnDelivery>(std::move(on_delivery));
  // librdkafka's RD_KAFKA_V_* macros are C casts by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
  const rd_kafka_resp_err_t err = rd_kafka_producev(
      rk_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
      RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_HEADERS(hdrs),
      RD_KAFKA_V_OPAQUE(cb.get()), RD_KAFKA_V_END);
#pragma GCC diagnostic pop
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_headers_destroy(hdrs);  // only a successful producev takes the headers
    return make_error_code(err);
  }
  (void)cb.release();  // owned by the message until on_delivery_report
  return {};
}

int Producer::poll(std::chrono::milliseconds timeout) {
  return rd_kafka_poll(rk_.get(), static_cast<int>(timeout.count()));
}

bool Producer::flush(std::chrono::milliseconds timeout) {
  return rd_kafka_flush(rk_.get(), static_cast<int>(timeout.count())) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

}  // namespace lgsp::bus
