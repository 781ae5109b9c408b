#pragma once

#include <boost/system/error_code.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "bus/envelope.hpp"

namespace lgsp::connectors {

/// What one registry answers. handle() and handle_batch() run on the connector's poll thread,
/// one message at a time; they answer every request (errors are statuses in the reply, never
/// exceptions), already minimised to the fields the request names.
class RegistryService {
 public:
  virtual ~RegistryService() = default;
  virtual std::string_view registry() const = 0;
  virtual bus::v1::Reply handle(const bus::v1::Request& request) = 0;

  /// A bulk job's micro-batch: `out` gets one reply per item of `chunk.batch()`, in order,
  /// each exactly what handle(item) would answer; the outer reply is OK with the chunk's id.
  /// The default asks handle() item by item; a registry whose store can read many subjects in
  /// one query overrides it.
  virtual void handle_batch(const bus::v1::Request& chunk, bus::v1::Reply& out) {
    out.set_request_id(chunk.request_id());
    out.set_status(bus::v1::STATUS_OK);
    for (const auto& item : chunk.batch()) *out.add_batch() = handle(item);
  }
};

/// Marks `reply` as a non-OK answer with its operator-facing reason (never personal data).
inline void fail(bus::v1::Reply& reply, bus::v1::Status status, std::string detail) {
  reply.set_status(status);
  reply.set_detail(std::move(detail));
}

/// Marks `reply` as failed because the registry's store could not answer: unavailable (try
/// again later) when the error is transient (an upstream system's timeout, outage or open
/// breaker), a bad request when the store cannot be asked this way (an upstream with no path
/// for the subject key), else a backend error. The detail names the registry and the error,
/// never data.
inline void fail_store(bus::v1::Reply& reply, std::string_view registry,
                       const boost::system::error_code& ec) {
  if (ec == boost::system::errc::operation_not_supported) {
    // The store cannot be asked this way (an upstream with no path for this subject key):
    // the partner's request, not the registry, has to change.
    fail(reply, bus::v1::STATUS_BAD_REQUEST,
         "the " + std::string(registry) +
             " registry cannot be asked by this kind of subject: " + ec.message());
    return;
  }
  const bool transient = ec == boost::system::errc::resource_unavailable_try_again;
  fail(reply, transient ? bus::v1::STATUS_UNAVAILABLE : bus::v1::STATUS_BACKEND_ERROR,
       std::string(registry) + " store: " + ec.message());
}

/// Starts an OK verify answer. For an unknown subject it is already complete (not found,
/// no match, `fact` false) and nullptr is returned; otherwise the result to grade.
inline bus::v1::VerifyResult* begin_verify(bus::v1::Reply& reply, bool found, const char* fact) {
  reply.set_status(bus::v1::STATUS_OK);
  auto* result = reply.mutable_verify();
  result->set_subject_found(found);
  if (found) return result;
  result->set_match(false);
  (*result->mutable_facts())[fact] = false;
  return nullptr;
}

/// Appends the grade of one claim that is either right or wrong.
inline void grade(bus::v1::VerifyResult& result, const char* field, bool exact) {
  auto* fg = result.add_fields();
  fg->set_field(field);
  fg->set_grade(exact ? bus::v1::GRADE_EXACT : bus::v1::GRADE_MISMATCH);
}

}  // namespace lgsp::connectors
