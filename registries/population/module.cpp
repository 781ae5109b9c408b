#include "registries/population/module.hpp"

#include <array>

#include "domain/names.hpp"
#include "registries/population/service.hpp"
#include "registries/population/store.hpp"
#include "registries/request_reader.hpp"

namespace lgsp::registries::population {
namespace {

namespace json = boost::json;

constexpr std::array<std::string_view, 3> kOperations{"verify", "lookup", "batch-verify"};
constexpr std::array<std::string_view, 6> kFields{
    "full_name",       "date_of_birth",     "gender",
    "place_of_origin", "permanent_address", "id_card_issue_date"};
constexpr std::array<std::string_view, 2> kSubjects{"citizen_id", "legacy_id_number"};
constexpr std::array<std::string_view, 3> kClaims{"full_name", "date_of_birth", "gender"};
constexpr Catalogue kCatalogue{
    "population", kOperations, kFields,
    kSubjects,    kClaims,     "identity, birth, origin and permanent address of every citizen",
    kCommands};

void parse_name(RequestReader& in, bus::v1::Request& env) {
  auto name = in.str("full_name", false, 200);
  if (!name) return;
  const auto n = domain::normalize_name(*name);
  if (!n || n->empty()) in.error("full_name", "must be a non-empty name in valid UTF-8");
  (*env.mutable_claims())["full_name"] = std::move(*name);
}

void parse_birth_date(RequestReader& in, bus::v1::Request& env) {
  if (auto dob = in.date_or_year("date_of_birth", false))
    (*env.mutable_claims())["date_of_birth"] = std::move(*dob);
}

void parse_gender(RequestReader& in, bus::v1::Request& env) {
  auto g = in.str("gender", false, 16);
  if (!g) return;
  // Registry values, and the Vietnamese words partners' forms often carry.
  if (*g == "male" || *g == "nam" || *g == "Nam") {
    (*env.mutable_claims())["gender"] = "male";
  } else if (*g == "female" || *g == "nữ" || *g == "Nữ" || *g == "nu") {
    (*env.mutable_claims())["gender"] = "female";
  } else {
    in.error("gender", "must be \"male\" or \"female\" (\"nam\"/\"nữ\" also accepted)");
  }
}

class PopulationSeeder final : public SeedWriter {
 public:
  explicit PopulationSeeder(std::unique_ptr<PopulationWriter> w) : w_(std::move(w)) {}
  std::int64_t add(const domain::CitizenRecord& c) override {
    w_->add(c);
    return 1;
  }
  void finish(const Meta& meta) override { w_->finish(meta); }

 private:
  std::unique_ptr<PopulationWriter> w_;
};

class PopulationModule final : public Module {
 public:
  const Catalogue& catalogue() const override { return kCatalogue; }

  void parse(std::string_view operation, RequestReader& in, Query& out) const override {
    if (operation == "lookup") {
      in.only({"citizen_id", "fields"});
      in.citizen_subject(out.envelope, true, true);
      out.fields = in.fields(kCatalogue);
      return;
    }
    in.only({"citizen_id", "full_name", "date_of_birth", "gender"});
    in.citizen_subject(out.envelope, true, true);
    parse_name(in, out.envelope);
    parse_birth_date(in, out.envelope);
    parse_gender(in, out.envelope);
    if (!in.has("full_name") && !in.has("date_of_birth") && !in.has("gender")) {
      in.error("full_name", "at least one of full_name, date_of_birth, gender is needed to verify");
    }
  }

  std::unique_ptr<connectors::RegistryService> open(const config::RegistryConfig& rc,
                                                    Clock now_ms) const override {
    return std::make_unique<Bound<PopulationStore, PopulationService>>(open_store(rc),
                                                                       std::move(now_ms));
  }

  UpstreamShape upstream_shape() const override {
    return {kUpstreamColumns, kUpstreamRequired, kUpstreamSubjects};
  }

  std::unique_ptr<SeedWriter> seed(const config::RegistryConfig& rc,
                                   std::uint64_t /*seed*/) const override {
    return std::make_unique<PopulationSeeder>(open_writer(rc));
  }

  std::vector<json::object> samples(const config::RegistryConfig& rc,
                                    std::int64_t n) const override {
    std::vector<json::object> out;
    for (const auto& r : open_store(rc)->samples(n)) {
      json::object o{{"registry", "population"}, {"citizen_id", r.citizen_id},
                     {"full_name", r.full_name}, {"date_of_birth", r.date_of_birth},
                     {"gender", r.gender},       {"place_of_origin", r.place_of_origin},
                     {"province", r.province},   {"id_card_issue_date", r.id_card_issue_date}};
      if (!r.legacy_id_number.empty()) o["legacy_id_number"] = r.legacy_id_number;
      out.push_back(std::move(o));
    }
    return out;
  }
};

}  // namespace

const Module& module() {
  static const PopulationModule kModule;
  return kModule;
}

}  // namespace lgsp::registries::population
