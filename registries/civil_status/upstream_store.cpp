// The civil-status registry answered by the Ministry of Justice's own system over its REST API
// (backend: upstream). One GET per citizen returns their registrations as a list; config
// (registries.civil-status.upstream) says where the list is and how its fields map onto
// ours. See registries/backends/upstream_record.hpp.
#include <algorithm>
#include <array>

#include "registries/backends/upstream_record.hpp"
#include "registries/civil_status/store.hpp"

namespace lgsp::registries::civil_status {
namespace {

namespace up = upstream;

bool among(std::string_view v, std::initializer_list<std::string_view> allowed) {
  return std::find(allowed.begin(), allowed.end(), v) != allowed.end();
}

/// One mapped registration as an event of `citizen_id`; nullopt when it is not one our
/// registry could hold (an unknown kind or status, a marriage without the other spouse, a
/// record of someone else).
std::optional<CivilEvent> event_of(up::Record r, std::string_view citizen_id) {
  const auto take = [&r](std::string_view column) { return up::take(r, column); };
  CivilEvent e{take("registration_number"), take("kind"),       take("citizen_id"),
               take("spouse_citizen_id"),   take("event_date"), take("place_of_registration"),
               take("registered_on"),       take("status")};
  if (e.citizen_id.empty()) e.citizen_id = citizen_id;
  if (e.status.empty()) e.status = "registered";
  const bool ok = e.citizen_id == citizen_id && among(e.kind, {"birth", "death", "marriage"}) &&
                  among(e.status, {"registered", "dissolved"}) &&
                  (e.kind == "marriage") == !e.spouse_citizen_id.empty() &&
                  e.spouse_citizen_id != citizen_id;
  if (!ok) return std::nullopt;
  return e;
}

class UpstreamStore final : public CivilStatusStore {
 public:
  explicit UpstreamStore(const config::UpstreamConfig& c) : source_(c, kUpstreamRequired) {}

  StoreResult<std::vector<CivilEvent>> find_by_citizen(std::string_view id) override {
    auto records = source_.fetch_all("citizen_id", id);
    if (!records) return records.error();
    std::vector<CivilEvent> out;
    out.reserve(records->size());
    for (auto& r : *records) {
      auto e = event_of(std::move(r), id);
      // A registration we cannot read as one: no answer rather than a wrong one.
      if (!e) return up::make_error_code(up::Error::kMalformed);
      out.push_back(std::move(*e));
    }
    std::sort(out.begin(), out.end(), [](const CivilEvent& a, const CivilEvent& b) {
      return std::tie(a.event_date, a.registration_number) <
             std::tie(b.event_date, b.registration_number);
    });
    return out;
  }
  /// The upstream is not ours to enumerate.
  std::vector<CivilEvent> samples(std::int64_t) override { return {}; }
  /// The ministry's system records the birth itself, through its API (config `commands`).
  StoreResult<CommandOutcome> apply(const bus::v1::Request& command) override {
    return source_.command(command);
  }

 private:
  up::RecordSource source_;
};

}  // namespace

std::unique_ptr<CivilStatusStore> open_upstream_store(const config::UpstreamConfig& c) {
  return std::make_unique<UpstreamStore>(c);
}

}  // namespace lgsp::registries::civil_status
