#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/child_process.hpp"

namespace lgsp::testing {

/// The ministry stand-in (tests/standin, lgsp-ministry-standin) as a child process on a port
/// of its choosing, serving a seeded population file; killed at the end.
class Standin {
 public:
  /// `db`: the population file ("" for none). `args` are added to its command line (e.g.
  /// --civil-status-db FILE, --token-env NAME, --fail-first N).
  Standin(const std::filesystem::path& dir, const std::string& db,
          std::vector<std::string> args = {});

  std::uint16_t port() const { return port_; }
  /// http://127.0.0.1:PORT, with every request given `fault` when there is one.
  std::string url(std::string_view fault = {}) const;
  /// API requests the stand-in has received.
  std::int64_t requests() const { return stats().at("requests").as_int64(); }
  std::int64_t connections() const { return stats().at("connections").as_int64(); }
  /// Connections open now, counting the one that asks.
  std::int64_t open() const { return stats().at("open").as_int64(); }

 private:
  boost::json::object stats() const;

  std::unique_ptr<ChildProcess> child_;
  std::uint16_t port_ = 0;
};

/// A civil-status registry served by the stand-in's Ministry of Justice API at `base_url`, as
/// a TestStack registries entry (a YAML flow mapping): its paths, its list of registrations
/// and their fields, and `extra` members of the upstream block (e.g. commands).
std::string justice_registry_yaml(const std::string& base_url, const std::string& extra = {});

}  // namespace lgsp::testing
