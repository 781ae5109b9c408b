// Bytes from Kafka into bus::decode_request / decode_reply / decode_audit_event and the
// bundle decoders: the only path by which another process's bytes reach a connector or the
// gateway's reply handling.
// Whatever decodes must re-encode to bytes that decode to an equal message.
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "bus/envelope.hpp"

namespace {

namespace bus = lgsp::bus;

template <class Message, class Decode>
void round_trip(std::string_view bytes, Decode decode, const char* what) {
  const auto m = decode(bytes);
  if (!m) return;
  const std::string again = bus::encode(*m);
  const auto m2 = decode(again);
  if (!m2) {
    std::fprintf(stderr, "%s: encode() of a decoded message does not decode\n", what);
    std::abort();
  }
  if (!google::protobuf::util::MessageDifferencer::Equals(*m, *m2)) {
    std::fprintf(stderr, "%s: decode(encode(m)) != m\n%s\n---\n%s\n", what,
                 m->DebugString().c_str(), m2->DebugString().c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Protobuf logs every string field that is not UTF-8; the decoder refusing it is the point.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  round_trip<bus::v1::Request>(bytes, bus::decode_request, "Request");
  round_trip<bus::v1::Reply>(bytes, bus::decode_reply, "Reply");
  round_trip<bus::v1::AuditEvent>(bytes, bus::decode_audit_event, "AuditEvent");
  round_trip<bus::v1::RequestBundle>(bytes, bus::decode_request_bundle, "RequestBundle");
  round_trip<bus::v1::ReplyBundle>(bytes, bus::decode_reply_bundle, "ReplyBundle");
  // The reply-to header travels beside the envelope and is parsed on every request.
  if (const auto r = bus::parse_reply_to(bytes)) {
    const auto again = bus::parse_reply_to(bus::format_reply_to(*r));
    if (!again || again->topic != r->topic || again->partition != r->partition) {
      std::fprintf(stderr, "parse_reply_to(format_reply_to(r)) != r\n");
      std::abort();
    }
  }
  return 0;
}
