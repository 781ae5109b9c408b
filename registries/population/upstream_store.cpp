// The population registry answered by the ministry's own system, over its REST API
// (backend: upstream). The mapping from its answer to our columns is config
// (registries.population.upstream.fields); see registries/backends/upstream_record.hpp.
#include <algorithm>
#include "registries/backends/upstream_record.hpp"

#include "registries/population/store.hpp"

namespace lgsp::registries::population {
namespace {

namespace up = upstream;

domain::CitizenRecord citizen_of(up::Record r) {
  const auto take = [&r](std::string_view column) { return up::take(r, column); };
  return {take("citizen_id"),      take("full_name"),       take("date_of_birth"),
          take("gender"),          take("place_of_origin"), take("province"),
          take("district"),        take("commune"),         take("id_card_issue_date"),
          take("legacy_id_number")};
}

class UpstreamStore final : public PopulationStore {
 public:
  explicit UpstreamStore(const config::UpstreamConfig& c) : source_(c, kUpstreamRequired) {}

  StoreResult<std::optional<domain::CitizenRecord>> find_citizen(std::string_view id) override {
    return find("citizen_id", id);
  }
  StoreResult<std::optional<domain::CitizenRecord>> find_by_legacy_id(
      std::string_view id) override {
    return find("legacy_id_number", id);
  }
  /// One call per distinct ID: upstream APIs answer one subject at a time.
  StoreResult<std::vector<domain::CitizenRecord>> find_citizens(
      const std::vector<std::string>& ids) override {
    std::vector<domain::CitizenRecord> out;
    std::vector<std::string> distinct(ids);
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    for (const auto& id : distinct) {
      auto r = find("citizen_id", id);
      if (!r) return r.error();
      if (*r) out.push_back(std::move(**r));
    }
    return out;
  }
  /// The upstream is not ours to enumerate.
  std::vector<domain::CitizenRecord> samples(std::int64_t) override { return {}; }

 private:
  StoreResult<std::optional<domain::CitizenRecord>> find(std::string_view key,
                                                         std::string_view value) {
    auto r = source_.fetch(key, value);
    if (!r) return r.error();
    if (!*r) return std::optional<domain::CitizenRecord>{};
    auto citizen = citizen_of(std::move(**r));
    // The upstream answered for someone else: a wrong answer is worse than none.
    if (key == "citizen_id" && citizen.citizen_id != value)
      return up::make_error_code(up::Error::kMalformed);
    return std::optional<domain::CitizenRecord>(std::move(citizen));
  }

  up::RecordSource source_;
};

}  // namespace

std::unique_ptr<PopulationStore> open_upstream_store(const config::UpstreamConfig& c) {
  return std::make_unique<UpstreamStore>(c);
}

}  // namespace lgsp::registries::population
