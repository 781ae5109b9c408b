#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "bus/envelope.pb.h"
#include "bus/kafka.hpp"
#include "util/hashing.hpp"

namespace lgsp::bus {

/// Kafka header names. Routing metadata travels in headers so a message can be routed,
/// traced or dropped without decoding its body.
inline constexpr std::string_view kHeaderReplyTo = "lgsp-reply-to";
inline constexpr std::string_view kHeaderRequestId = "lgsp-request-id";
inline constexpr std::string_view kHeaderTraceparent = "traceparent";
/// On a RequestBundle or ReplyBundle: how many envelopes it holds. Its absence means the
/// value is a single Request or Reply.
inline constexpr std::string_view kHeaderBundle = "lgsp-bundle";

/// Topic names derived from one prefix, so several platforms can share a cluster.
struct Topics {
  std::string prefix = "lgsp";
  std::string requests(std::string_view registry) const {
    return prefix + "." + std::string(registry) + ".requests";
  }
  std::string replies() const { return prefix + ".replies"; }
  /// Bulk jobs' micro-batches for a registry: separate from `requests` so a connector serves
  /// interactive requests first.
  std::string batch_requests(std::string_view registry) const {
    return prefix + ".batch." + std::string(registry) + ".requests";
  }
  std::string audit() const { return prefix + ".audit"; }
  /// Registries' change events, one partition (the feed's cursor is its offset).
  std::string changes() const { return prefix + ".changes"; }
};

/// Where a reply goes: the gateway instance's own partition of the reply topic.
struct ReplyTo {
  std::string topic;
  std::int32_t partition = 0;
};
std::string format_reply_to(const ReplyTo& r);
std::optional<ReplyTo> parse_reply_to(std::string_view s);

/// The value of header `key`, or nullopt.
std::optional<std::string_view> find_header(const rd_kafka_message_t* msg, std::string_view key);

/// Message keys for subjects: HMAC-SHA256 (hex) of the subject under a secret, so one
/// subject always lands on the same partition while the key says nothing to whoever reads
/// the topic. (A plain hash of a 12-digit citizen ID is reversed by trying them all.)
/// Immutable; thread-safe.
class MessageKeys {
 public:
  /// `secret` empty: a random one of this process's own (keys then differ between
  /// processes, which only changes which partition a subject's requests take).
  explicit MessageKeys(std::string_view secret = {});
  std::string key(std::string_view subject) const;

 private:
  std::shared_ptr<const util::HmacSha256> hmac_;
};

/// What a sealed message's tag binds besides its own bytes (util::Sealer): where it was
/// sent and the routing headers the receiver acts on, so a writer to the bus can neither move
/// a sealed message to another topic nor give it another reply address or bundle count.
std::string request_context(std::string_view topic, std::string_view reply_to,
                            std::string_view bundle);
std::string reply_context(std::string_view reply_to, std::string_view bundle);
/// What a change event's seal binds: the topic it was sent to.
std::string change_context(std::string_view topic);
/// The value of a message, and its header `key` or "" (for the contexts above).
std::string_view payload(const rd_kafka_message_t* msg);
std::string_view header_or_empty(const rd_kafka_message_t* msg, std::string_view key);

/// Envelope (de)serialisation; parse returns nullopt for bytes that are not an envelope.
std::string encode(const v1::Request& r);
std::string encode(const v1::Reply& r);
std::string encode(const v1::AuditEvent& e);
std::string encode(const v1::RequestBundle& b);
std::string encode(const v1::ReplyBundle& b);
std::string encode(const v1::ChangeEvent& e);
std::optional<v1::ChangeEvent> decode_change_event(std::string_view bytes);
std::optional<v1::Request> decode_request(std::string_view bytes);
std::optional<v1::Reply> decode_reply(std::string_view bytes);
std::optional<v1::AuditEvent> decode_audit_event(std::string_view bytes);
std::optional<v1::RequestBundle> decode_request_bundle(std::string_view bytes);
std::optional<v1::ReplyBundle> decode_reply_bundle(std::string_view bytes);

}  // namespace lgsp::bus
