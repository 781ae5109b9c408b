#pragma once

#include <array>
#include <boost/system/result.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "domain/citizen.hpp"
#include "registries/registry.hpp"

namespace lgsp::registries::population {

template <class T>
using StoreResult = boost::system::result<T>;

/// The population registry's commands (steps of the birth and the death procedures, and
/// their undos).
inline constexpr std::array<CommandArg, 8> kRegisterNewbornArgs{{
    {"full_name", ArgKind::kName},
    {"date_of_birth", ArgKind::kDate},
    {"gender", ArgKind::kGender},
    {"birth_province_code", ArgKind::kProvinceCode},
    {"place_of_origin", ArgKind::kText},
    {"province", ArgKind::kText},
    {"district", ArgKind::kText},
    {"commune", ArgKind::kText},
}};
inline constexpr std::array<std::string_view, 1> kRegisterNewbornResults{"citizen_id"};
inline constexpr std::array<CommandArg, 2> kDeregisterResidenceArgs{{
    {"citizen_id", ArgKind::kCitizenId},
    {"date_of_death", ArgKind::kDate},
}};
inline constexpr std::array<std::string_view, 1> kDeregisterResidenceResults{"deregistered_on"};
inline constexpr std::array<CommandSpec, 4> kCommands{{
    {"register-newborn", kRegisterNewbornArgs, "void-newborn",
     "issues a newborn's citizen ID and records them with their permanent residence",
     kRegisterNewbornResults},
    {"void-newborn", {}, "", "removes the newborn a register-newborn recorded"},
    {"deregister-residence", kDeregisterResidenceArgs, "restore-residence",
     "deregisters a deceased citizen's permanent residence (kept in the registry's history)",
     kDeregisterResidenceResults},
    {"restore-residence", {}, "", "puts back the residence a deregister-residence removed"},
}};

/// Read access to the population registry. Implementations: SQLite (embedded default) and
/// PostgreSQL. An instance is used by one thread (the connector's poll loop).
/// "Not found" is an empty optional/vector; an error means the store could not answer.
class PopulationStore : public CommandTarget {
 public:
  ~PopulationStore() override = default;
  virtual StoreResult<std::optional<domain::CitizenRecord>> find_citizen(
      std::string_view citizen_id) = 0;
  /// By the old 9-digit identity card number the registry links to the citizen.
  virtual StoreResult<std::optional<domain::CitizenRecord>> find_by_legacy_id(
      std::string_view legacy_id) = 0;
  /// The records of those of `citizen_ids` that exist, in one query (a bulk job's chunk), in no
  /// particular order and each once (ids may repeat or be unknown).
  virtual StoreResult<std::vector<domain::CitizenRecord>> find_citizens(
      const std::vector<std::string>& citizen_ids) = 0;
  /// n records spread evenly over the registry (for `lgsp seed --samples` and tests).
  virtual std::vector<domain::CitizenRecord> samples(std::int64_t n) = 0;
};

/// Bulk writer for `lgsp seed`: replaces the registry with what was added, atomically at
/// finish(). Not thread-safe.
class PopulationWriter {
 public:
  virtual ~PopulationWriter() = default;
  virtual void add(const domain::CitizenRecord& row) = 0;
  virtual void finish(const Meta& meta) = 0;
};

/// The store (or writer) of the backend `rc` names. Throws with the reason (missing file,
/// unreachable database) so a misconfigured connector stops at start.
std::unique_ptr<PopulationStore> open_store(const config::RegistryConfig& rc);
std::unique_ptr<PopulationWriter> open_writer(const config::RegistryConfig& rc);

std::unique_ptr<PopulationStore> open_postgres_store(const std::string& dsn, std::size_t pool);
/// The ministry's own system behind its REST API (backend: upstream); read-only, no samples.
std::unique_ptr<PopulationStore> open_upstream_store(const config::UpstreamConfig& c);

/// The columns an upstream's answer may fill (config upstream.fields), those it must, and
/// the subjects it can be asked by (config upstream.paths).
inline constexpr std::array<std::string_view, 10> kUpstreamColumns{
    "citizen_id",         "full_name",       "date_of_birth", "gender",
    "place_of_origin",    "province",        "district",      "commune",
    "id_card_issue_date", "legacy_id_number"};
inline constexpr std::array<std::string_view, 4> kUpstreamRequired{"citizen_id", "full_name",
                                                                   "date_of_birth", "gender"};
inline constexpr std::array<std::string_view, 2> kUpstreamSubjects{"citizen_id",
                                                                   "legacy_id_number"};
std::unique_ptr<PopulationWriter> open_postgres_writer(const std::string& dsn);

}  // namespace lgsp::registries::population
