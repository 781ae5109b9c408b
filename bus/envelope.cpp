#include "bus/envelope.hpp"

#include <openssl/rand.h>

#include <charconv>
#include <stdexcept>

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

std::string request_context(std::string_view topic, std::string_view reply_to,
                            std::string_view bundle) {
  std::string c = "request\n";
  c.append(topic).append("\n").append(reply_to).append("\n").append(bundle);
  return c;
}

std::string reply_context(std::string_view reply_to, std::string_view bundle) {
  std::string c = "reply\n";
  c.append(reply_to).append("\n").append(bundle);
  return c;
}

std::string change_context(std::string_view topic) {
  std::string c = "change\n";
  c.append(topic);
  return c;
}

std::string_view payload(const rd_kafka_message_t* msg) {
  return {static_cast<const char*>(msg->payload), msg->len};
}

std::string_view header_or_empty(const rd_kafka_message_t* msg, std::string_view key) {
  return find_header(msg, key).value_or(std::string_view{});
}

MessageKeys::MessageKeys(std::string_view secret) {
  std::string k(secret);
  if (k.empty()) {
    k.resize(32);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(k.data()), static_cast<int>(k.size())) != 1)
      throw std::runtime_error("no randomness from OpenSSL");
  }
  // A key of its own, derived from the secret, so it is never the secret's other uses' key.
  const auto derived = util::HmacSha256(k).digest("lgsp message keys v1");
  hmac_ = std::make_shared<const util::HmacSha256>(
      std::string_view(reinterpret_cast<const char*>(derived.data()), derived.size()));
}

std::string MessageKeys::key(std::string_view subject) const {
  const auto md = hmac_->digest(subject);
  return util::to_hex(md.data(), md.size());
}

std::string encode(const v1::Request& r) { return r.SerializeAsString(); }
std::string encode(const v1::Reply& r) { return r.SerializeAsString(); }
std::string encode(const v1::AuditEvent& e) { return e.SerializeAsString(); }
std::string encode(const v1::ChangeEvent& e) { return e.SerializeAsString(); }
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
std::optional<v1::ChangeEvent> decode_change_event(std::string_view bytes) {
  return decode<v1::ChangeEvent>(bytes);
}

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
