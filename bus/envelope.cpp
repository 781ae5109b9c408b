#include "bus/envelope.hpp"

#include <charconv>

#include "util/hashing.hpp"

namespace lgsp::bus {

std::string format_reply_to(const ReplyTo& r) {
  return r.topic + ":" + std::to_string(r.partition);
}

std::optional<ReplyTo> parse_reply_to(std::string_view s) {
  const auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::int32_t partition = -1;
  const auto* end = s.data() + s.size();
  const auto [p, ec] = std::from_chars(s.data() + colon + 1, end, partition);
  if (ec != std::errc{} || p != end || partition < 0) return std::nullopt;
  return ReplyTo{std::string(s.substr(0, colon)), partition};
}

std::optional<std::string_view> find_header(const rd_kafka_message_t* msg, std::string_view key) {
  rd_kafka_headers_t* hdrs = nullptr;
  // The headers stay owned by the message.
  if (rd_kafka_message_headers(msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return std::nullopt;
  const void* value = nullptr;
  std::size_t size = 0;
  if (rd_kafka_header_get_last(hdrs, std::string(key).c_str(), &value, &size) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  return std::string_view(static_cast<const char*>(value), size);
}

std::string subject_key(std::string_view citizen_id) { return util::sha256_hex(citizen_id); }

std::string encode(const v1::Request& r) { return r.SerializeAsString(); }
std::string encode(const v1::Reply& r) { return r.SerializeAsString(); }
std::string encode(const v1::AuditEvent& e) { return e.SerializeAsString(); }
std::string encode(const v1::RequestBundle& b) { return b.SerializeAsString(); }
std::string encode(const v1::ReplyBundle& b) { return b.SerializeAsString(); }

namespace {
template <class Message>
std::optional<Message> decode(std::string_view bytes) {
  Message m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return std::nullopt;
  return m;
}
}  // namespace

std::optional<v1::Request> decode_request(std::string_view bytes) {
  return decode<v1::Request>(bytes);
}
std::optional<v1::Reply> decode_reply(std::string_view bytes) { return decode<v1::Reply>(bytes); }
std::optional<v1::AuditEvent> decode_audit_event(std::string_view bytes) {
  return decode<v1::AuditEvent>(bytes);
}
std::optional<v1::RequestBundle> decode_request_bundle(std::string_view bytes) {
  return decode<v1::RequestBundle>(bytes);
}
std::optional<v1::ReplyBundle> decode_reply_bundle(std::string_view bytes) {
  return decode<v1::ReplyBundle>(bytes);
}

}  // namespace lgsp::bus
