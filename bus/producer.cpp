#include "bus/producer.hpp"
#include "observability/thread_name.hpp"

#include <zlib.h>

#include <memory>

namespace lgsp::bus {

std::int32_t partition_for_key(std::string_view key, std::int32_t partitions) {
  const auto crc =
      crc32(0L, reinterpret_cast<const Bytef*>(key.data()), static_cast<uInt>(key.size()));
  return static_cast<std::int32_t>(crc % static_cast<std::uint32_t>(partitions));
}

Producer::Producer(const Properties& props, Polling polling) {
  ConfPtr conf = make_conf(props);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Producer::on_delivery_report);
  rk_ = make_client(RD_KAFKA_PRODUCER, std::move(conf));
  if (polling == Polling::kBackground) {
    poller_ = std::thread([this] {
      obs::name_this_thread("lgsp-produce");
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
  // rd_kafka_produceva: the typed-array form of producev, without its GNU-extension macros.
  rd_kafka_vu_t vus[7];
  vus[0].vtype = RD_KAFKA_VTYPE_TOPIC;
  vus[0].u.cstr = topic.c_str();
  vus[1].vtype = RD_KAFKA_VTYPE_PARTITION;
  vus[1].u.i32 = partition < 0 ? RD_KAFKA_PARTITION_UA : partition;
  vus[2].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  vus[2].u.i = RD_KAFKA_MSG_F_COPY;
  vus[3].vtype = RD_KAFKA_VTYPE_KEY;
  vus[3].u.mem.ptr = const_cast<char*>(key.data());  // copied (MSG_F_COPY), never written
  vus[3].u.mem.size = key.size();
  vus[4].vtype = RD_KAFKA_VTYPE_VALUE;
  vus[4].u.mem.ptr = const_cast<char*>(value.data());
  vus[4].u.mem.size = value.size();
  vus[5].vtype = RD_KAFKA_VTYPE_HEADERS;
  vus[5].u.headers = hdrs;
  vus[6].vtype = RD_KAFKA_VTYPE_OPAQUE;
  vus[6].u.ptr = cb.get();
  if (rd_kafka_error_t* error = rd_kafka_produceva(rk_.get(), vus, 7)) {
    const rd_kafka_resp_err_t err = rd_kafka_error_code(error);
    rd_kafka_error_destroy(error);
    rd_kafka_headers_destroy(hdrs);  // only a successful produce takes the headers
    return make_error_code(err);
  }
  (void)cb.release();  // owned by the message until on_delivery_report
  return {};
}

boost::system::error_code Producer::learn_topic(const std::string& topic,
                                                std::int32_t* partitions) {
  const std::unique_ptr<rd_kafka_topic_t, decltype(&rd_kafka_topic_destroy)> rkt(
      rd_kafka_topic_new(rk_.get(), topic.c_str(), nullptr), &rd_kafka_topic_destroy);
  const rd_kafka_metadata_t* md = nullptr;
  const auto err = rd_kafka_metadata(rk_.get(), 0, rkt.get(), &md, 5000);
  if (partitions != nullptr) {
    *partitions = 0;
    if (md != nullptr && md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
      *partitions = md->topics[0].partition_cnt;
  }
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  return err == RD_KAFKA_RESP_ERR_NO_ERROR ? boost::system::error_code{} : make_error_code(err);
}

int Producer::poll(std::chrono::milliseconds timeout) {
  return rd_kafka_poll(rk_.get(), static_cast<int>(timeout.count()));
}

bool Producer::flush(std::chrono::milliseconds timeout) {
  return rd_kafka_flush(rk_.get(), static_cast<int>(timeout.count())) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

}  // namespace lgsp::bus
