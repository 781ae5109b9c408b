#pragma once

#include <array>
#include <boost/system/result.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "registries/registry.hpp"

namespace lgsp::registries::civil_status {

template <class T>
using StoreResult = boost::system::result<T>;

/// One civil-status registration as it concerns one citizen: their birth, their death, or a
/// marriage they are party to. A marriage is two rows, one per spouse, with the same
/// registration number, so every question is asked by one citizen ID.
struct CivilEvent {
  std::string registration_number;    // "KS.1990.0000123" (birth), "KT." death, "KH." marriage
  std::string kind;                   // birth | death | marriage
  std::string citizen_id;             // whose event
  std::string spouse_citizen_id;      // marriage only: the other spouse, else ""
  std::string event_date;             // YYYY-MM-DD: born, died, married
  std::string place_of_registration;  // the commune's People's Committee
  std::string registered_on;          // YYYY-MM-DD, the registration's own date
  std::string status;                 // registered | dissolved (a marriage ended by divorce)
};

/// The civil-status registry's commands (a step of the birth and of the death procedure, and
/// their undos).
inline constexpr std::array<CommandArg, 3> kRecordBirthArgs{{
    {"citizen_id", ArgKind::kCitizenId},
    {"date_of_birth", ArgKind::kDate},
    {"place_of_registration", ArgKind::kText},
}};
inline constexpr std::array<CommandArg, 3> kRecordDeathArgs{{
    {"citizen_id", ArgKind::kCitizenId},
    {"date_of_death", ArgKind::kDate},
    {"place_of_registration", ArgKind::kText},
}};
inline constexpr std::array<std::string_view, 1> kRegistrationResults{"registration_number"};
inline constexpr std::array<CommandSpec, 4> kCommands{{
    {"record-birth", kRecordBirthArgs, "void-birth",
     "registers a citizen's birth (rejected when their birth is already registered)",
     kRegistrationResults},
    {"void-birth", {}, "", "removes the birth a record-birth registered"},
    {"record-death", kRecordDeathArgs, "void-death",
     "registers a citizen's death (rejected when it is already registered, or dated before "
     "their registered birth)",
     kRegistrationResults},
    {"void-death", {}, "", "removes the death a record-death registered"},
}};

/// Read access to the civil-status registry. Implementations: SQLite (embedded default) and
/// PostgreSQL; one instance per thread.
class CivilStatusStore : public CommandTarget {
 public:
  ~CivilStatusStore() override = default;
  /// The citizen's events, oldest first; empty when the registry holds nothing of theirs.
  virtual StoreResult<std::vector<CivilEvent>> find_by_citizen(std::string_view citizen_id) = 0;
  virtual std::vector<CivilEvent> samples(std::int64_t n) = 0;
};

/// Bulk writer for `lgsp seed`, atomic at finish(). Not thread-safe.
class CivilStatusWriter {
 public:
  virtual ~CivilStatusWriter() = default;
  virtual void add(const CivilEvent& row) = 0;
  virtual void finish(const Meta& meta) = 0;
};

/// The store (or writer) of the backend `rc` names; throws with the reason.
std::unique_ptr<CivilStatusStore> open_store(const config::RegistryConfig& rc);
std::unique_ptr<CivilStatusWriter> open_writer(const config::RegistryConfig& rc);

std::unique_ptr<CivilStatusStore> open_sqlite_store(const std::string& path);
std::unique_ptr<CivilStatusWriter> open_sqlite_writer(const std::string& path);
std::unique_ptr<CivilStatusStore> open_postgres_store(const std::string& dsn, std::size_t pool);
std::unique_ptr<CivilStatusWriter> open_postgres_writer(const std::string& dsn);
/// The Ministry of Justice's own system behind its REST API (backend: upstream); read-only,
/// no samples.
std::unique_ptr<CivilStatusStore> open_upstream_store(const config::UpstreamConfig& c);

/// The columns an upstream's registration may fill (config upstream.fields), those it must,
/// and the subjects it can be asked by (config upstream.paths). A missing citizen_id is the
/// subject's; a missing status is "registered".
inline constexpr std::array<std::string_view, 8> kUpstreamColumns{
    "registration_number",   "kind",          "citizen_id", "spouse_citizen_id", "event_date",
    "place_of_registration", "registered_on", "status"};
inline constexpr std::array<std::string_view, 3> kUpstreamRequired{"registration_number", "kind",
                                                                   "event_date"};
inline constexpr std::array<std::string_view, 1> kUpstreamSubjects{"citizen_id"};

}  // namespace lgsp::registries::civil_status
