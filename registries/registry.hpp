#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bus/envelope.hpp"
#include "config/config.hpp"
#include "connectors/registry_service.hpp"
#include "domain/citizen.hpp"
#include "registries/commands.hpp"

namespace lgsp::registries {

class RequestReader;

/// What a registry offers: its operations (authorised as "name.operation"), the fields its
/// lookups can release, the request members that can name a subject, and the claims its
/// verify grades. Config validation, authorisation, the gateway and the docs read this.
struct Catalogue {
  std::string_view name;
  std::span<const std::string_view> operations;  // "verify", "lookup", "batch-verify"
  std::span<const std::string_view> fields;
  std::span<const std::string_view> subject_keys;
  std::span<const std::string_view> claims;
  /// One line for the docs and `lgsp registries`.
  std::string_view title;
  /// The changes it accepts (registries/commands.hpp); empty for a read-only registry.
  std::span<const CommandSpec> commands = {};
};

/// A request turned into its envelope by a module's parser; identity, deadline and field
/// scope are the gateway's to add.
struct Query {
  bus::v1::Request& envelope;
  /// Lookups: the fields named in the request; nullopt = every field the partner may see.
  std::optional<std::vector<std::string>> fields;
};

using Meta = std::vector<std::pair<std::string, std::string>>;
/// unix ms, for source.as_of.
using Clock = std::function<std::int64_t()>;

/// Writes one registry's rows for the synthetic citizens of `lgsp seed`, replacing the
/// registry atomically at finish() (readers see the old registry until then).
class SeedWriter {
 public:
  virtual ~SeedWriter() = default;
  /// Called for every synthetic citizen, in order, whether or not this registry holds
  /// anything of theirs, so that its rows depend only on the seed. Returns the rows written.
  virtual std::int64_t add(const domain::CitizenRecord& citizen) = 0;
  virtual void finish(const Meta& meta) = 0;
};

/// What the "upstream" backend (a ministry's own system behind its REST API) can give this
/// module: the columns of its record an answer may fill (config `upstream.fields`), those it
/// must, and the subject keys it can be asked by (config `upstream.paths`). No columns: the
/// module has no upstream backend. `many`: a subject has a list of records (config
/// `upstream.records` says where the answer holds it).
struct UpstreamShape {
  std::span<const std::string_view> columns;
  std::span<const std::string_view> required;
  std::span<const std::string_view> subject_keys;
  bool many = false;
  /// The commands config `upstream.commands` may send to the upstream's API.
  std::span<const CommandSpec> commands = {};
};

/// One registry of record, as the platform sees it. A module lives in registries/<name>/ and
/// owns everything specific to it; the rest of the code reaches it only through this
/// interface and the table in table.hpp. Modules are stateless singletons: every method is
/// const and thread-safe.
class Module {
 public:
  virtual ~Module() = default;
  virtual const Catalogue& catalogue() const = 0;

  /// Gateway: validates the JSON body of `operation` ("verify" or "lookup") and fills the
  /// envelope's subject and claims and the fields asked for; every problem is reported
  /// through `in`. Pure: no I/O.
  virtual void parse(std::string_view operation, RequestReader& in, Query& out) const = 0;

  /// Connector: opens the backend `rc` configures and returns the service that answers from
  /// it (owning the backend). Throws with a hint when the backend cannot be opened.
  virtual std::unique_ptr<connectors::RegistryService> open(const config::RegistryConfig& rc,
                                                            Clock now_ms) const = 0;

  /// `lgsp seed`: a writer of this registry's synthetic rows into the backend `rc` names.
  virtual std::unique_ptr<SeedWriter> seed(const config::RegistryConfig& rc,
                                           std::uint64_t seed) const = 0;

  /// Backend "upstream": see UpstreamShape. Default: none.
  virtual UpstreamShape upstream_shape() const { return {}; }

  /// `lgsp seed --samples`: n subjects spread over the registry, as flat JSON objects that
  /// name the registry and the values a person needs to try the API.
  virtual std::vector<boost::json::object> samples(const config::RegistryConfig& rc,
                                                   std::int64_t n) const = 0;
};

/// Owns a registry's backend and the service that reads it, as one RegistryService.
template <class Store, class Service>
class Bound final : public connectors::RegistryService {
 public:
  Bound(std::unique_ptr<Store> store, Clock now_ms)
      : store_(std::move(store)), service_(*store_, std::move(now_ms)) {}
  std::string_view registry() const override { return service_.registry(); }
  bus::v1::Reply handle(const bus::v1::Request& request) override {
    return service_.handle(request);
  }
  void handle_batch(const bus::v1::Request& chunk, bus::v1::Reply& out) override {
    service_.handle_batch(chunk, out);
  }

 private:
  std::unique_ptr<Store> store_;
  Service service_;
};

}  // namespace lgsp::registries
