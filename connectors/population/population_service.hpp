#pragma once

#include <functional>

#include "connectors/backends/stores.hpp"
#include "connectors/registry_service.hpp"

namespace lgsp::connectors::population {

/// The population registry's answers: verify (per-field grades and an overall match, never
/// field values) and lookup (the record minimised to the requested fields).
/// Owns nothing: the store outlives it. Single-threaded like the store.
class PopulationService final : public RegistryService {
 public:
  using Clock = std::function<std::int64_t()>;  // unix ms, for source.as_of
  PopulationService(PopulationStore& store, Clock now_ms);

  std::string_view registry() const override { return "population"; }
  bus::v1::Reply handle(const bus::v1::Request& request) override;

 private:
  void verify(const bus::v1::Request& req, const domain::CitizenRecord* rec,
              bus::v1::Reply& out) const;
  void lookup(const bus::v1::Request& req, const domain::CitizenRecord& rec,
              bus::v1::Reply& out) const;

  PopulationStore& store_;
  Clock now_ms_;
};

}  // namespace lgsp::connectors::population
