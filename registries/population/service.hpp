#pragma once

#include <functional>

#include "connectors/registry_service.hpp"
#include "registries/population/store.hpp"

namespace lgsp::registries::population {

/// The population registry's answers: verify (per-field grades and an overall match, never
/// field values) and lookup (the record minimised to the requested fields).
/// A bulk job's chunk reads all its citizen IDs in one store query (find_citizens); items
/// named by a legacy ID are read one by one. Either way each item gets what handle() answers.
/// Owns nothing: the store outlives it. Single-threaded like the store.
class PopulationService final : public connectors::RegistryService {
 public:
  using Clock = std::function<std::int64_t()>;  // unix ms, for source.as_of
  PopulationService(PopulationStore& store, Clock now_ms);

  std::string_view registry() const override { return "population"; }
  bus::v1::Reply handle(const bus::v1::Request& request) override;
  void handle_batch(const bus::v1::Request& chunk, bus::v1::Reply& out) override;

 private:
  /// What the store said about a request's subject: its record, nullptr (no such citizen),
  /// or the store's error.
  using Found = StoreResult<const domain::CitizenRecord*>;

  /// Reads one request's subject (by legacy ID or citizen ID) and answers it into `out`.
  void answer_one(const bus::v1::Request& req, bus::v1::Reply& out);
  /// The reply to `req` once its subject was read at `as_of` (unix ms).
  void answer(const bus::v1::Request& req, const Found& found, std::int64_t as_of,
              bus::v1::Reply& out) const;
  void verify(const bus::v1::Request& req, const domain::CitizenRecord* rec,
              bus::v1::Reply& out) const;
  void lookup(const bus::v1::Request& req, const domain::CitizenRecord& rec,
              bus::v1::Reply& out) const;

  PopulationStore& store_;
  Clock now_ms_;
};

}  // namespace lgsp::registries::population
