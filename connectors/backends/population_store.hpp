#pragma once

#include <boost/system/result.hpp>
#include <optional>
#include <string_view>

#include "domain/citizen.hpp"

namespace lgsp::connectors {

/// Read access to a population registry. Implementations: SQLite (embedded default);
/// PostgreSQL follows. One instance is used by one thread.
class PopulationStore {
 public:
  virtual ~PopulationStore() = default;
  /// The citizen, nullopt when no such ID, or an error when the store cannot answer.
  virtual boost::system::result<std::optional<domain::CitizenRecord>> find_citizen(
      std::string_view citizen_id) = 0;
};

}  // namespace lgsp::connectors
