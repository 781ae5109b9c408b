#include "registries/civil_status/module.hpp"

#include <algorithm>
#include <array>

#include "registries/civil_status/service.hpp"
#include "registries/civil_status/store.hpp"
#include "registries/civil_status/synthetic.hpp"
#include "registries/request_reader.hpp"

namespace lgsp::registries::civil_status {
namespace {

namespace json = boost::json;

constexpr std::array<std::string_view, 3> kOperations{"verify", "lookup", "batch-verify"};
constexpr std::array<std::string_view, 7> kFields{"kind",
                                                  "event_date",
                                                  "registration_number",
                                                  "place_of_registration",
                                                  "registered_on",
                                                  "spouse_citizen_id",
                                                  "status"};
constexpr std::array<std::string_view, 1> kSubjects{"citizen_id"};
constexpr std::array<std::string_view, 4> kClaims{"deceased", "date_of_death", "spouse_citizen_id",
                                                  "marriage_date"};
constexpr Catalogue kCatalogue{"civil-status", kOperations, kFields,
                               kSubjects,      kClaims,     "births, deaths and marriages",
                               kCommands};

void parse_verify(RequestReader& in, bus::v1::Request& env) {
  in.only({"citizen_id", "deceased", "date_of_death", "spouse_citizen_id", "marriage_date"});
  in.citizen_subject(env, true, false);
  auto& claims = *env.mutable_claims();
  if (auto v = in.boolean("deceased", false)) claims["deceased"] = std::move(*v);
  if (auto v = in.date_or_year("date_of_death", false)) claims["date_of_death"] = std::move(*v);
  if (auto v = in.citizen_id("spouse_citizen_id", false)) {
    if (*v == env.subject()) in.error("spouse_citizen_id", "must differ from citizen_id");
    claims["spouse_citizen_id"] = std::move(*v);
  }
  if (auto v = in.date_or_year("marriage_date", false)) claims["marriage_date"] = std::move(*v);
  const bool any = in.has("deceased") || in.has("date_of_death") || in.has("spouse_citizen_id") ||
                   in.has("marriage_date");
  if (!any) {
    in.error("deceased",
             "give at least one claim to verify: deceased, date_of_death, spouse_citizen_id or "
             "marriage_date");
  }
}

class CivilStatusSeeder final : public SeedWriter {
 public:
  CivilStatusSeeder(std::unique_ptr<CivilStatusWriter> w, std::uint64_t seed)
      : w_(std::move(w)), synthetic_(seed) {}
  std::int64_t add(const domain::CitizenRecord& c) override {
    const auto events = synthetic_.events_for(c);
    for (const auto& e : events) w_->add(e);
    return static_cast<std::int64_t>(events.size());
  }
  void finish(const Meta& meta) override { w_->finish(meta); }

 private:
  std::unique_ptr<CivilStatusWriter> w_;
  SyntheticCivilStatus synthetic_;
};

/// One sample per subject, deaths and marriages first: births alone show little.
json::object sample_of(const CivilEvent& e) {
  json::object o{{"registry", "civil-status"},
                 {"citizen_id", e.citizen_id},
                 {"kind", e.kind},
                 {"event_date", e.event_date}};
  if (e.kind == "marriage") o["spouse_citizen_id"] = e.spouse_citizen_id;
  return o;
}

class CivilStatusModule final : public Module {
 public:
  const Catalogue& catalogue() const override { return kCatalogue; }

  void parse(std::string_view operation, RequestReader& in, Query& out) const override {
    if (operation == "lookup") {
      in.only({"citizen_id", "fields"});
      in.citizen_subject(out.envelope, true, false);
      out.fields = in.fields(kCatalogue);
      return;
    }
    parse_verify(in, out.envelope);
  }

  std::unique_ptr<connectors::RegistryService> open(const config::RegistryConfig& rc,
                                                    Clock now_ms) const override {
    return std::make_unique<Bound<CivilStatusStore, CivilStatusService>>(open_store(rc),
                                                                         std::move(now_ms));
  }

  UpstreamShape upstream_shape() const override {
    return {kUpstreamColumns, kUpstreamRequired, kUpstreamSubjects, /*many=*/true, kCommands};
  }

  std::unique_ptr<SeedWriter> seed(const config::RegistryConfig& rc,
                                   std::uint64_t seed) const override {
    return std::make_unique<CivilStatusSeeder>(open_writer(rc), seed);
  }

  std::vector<json::object> samples(const config::RegistryConfig& rc,
                                    std::int64_t n) const override {
    auto events = open_store(rc)->samples(std::max<std::int64_t>(n * 8, 500));
    std::stable_partition(events.begin(), events.end(),
                          [](const CivilEvent& e) { return e.kind == "death"; });
    std::stable_partition(std::find_if(events.begin(), events.end(),
                                       [](const CivilEvent& e) { return e.kind != "death"; }),
                          events.end(), [](const CivilEvent& e) { return e.kind == "marriage"; });
    std::vector<json::object> out;
    for (std::size_t i = 0; i < events.size() && std::ssize(out) < n; ++i) {
      // At most a third deaths, so marriages show too.
      if (events[i].kind == "death" && std::ssize(out) >= (n + 2) / 3) continue;
      out.push_back(sample_of(events[i]));
    }
    return out;
  }
};

}  // namespace

const Module& module() {
  static const CivilStatusModule kModule;
  return kModule;
}

}  // namespace lgsp::registries::civil_status
