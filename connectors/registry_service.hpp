#pragma once

#include <string_view>

#include "bus/envelope.hpp"

namespace lgsp::connectors {

/// What one registry answers. handle() runs on the connector's poll thread, one request at a
/// time; it returns a reply for every request (errors are statuses in the reply, never
/// exceptions), already minimised to the fields the request names.
class RegistryService {
 public:
  virtual ~RegistryService() = default;
  virtual std::string_view registry() const = 0;
  virtual bus::v1::Reply handle(const bus::v1::Request& request) = 0;
};

}  // namespace lgsp::connectors
