#include "registries/insurance/module.hpp"

#include <array>

#include "domain/dates.hpp"
#include "domain/identifiers.hpp"
#include "registries/insurance/service.hpp"
#include "registries/insurance/store.hpp"
#include "registries/request_reader.hpp"
#include "seed/registries.hpp"

namespace lgsp::registries::insurance {
namespace {

namespace json = boost::json;

constexpr std::array<std::string_view, 3> kOperations{"verify", "lookup", "batch-verify"};
constexpr std::array<std::string_view, 8> kFields{"social_insurance_number",
                                                  "health_insurance_card",
                                                  "status",
                                                  "coverage_start",
                                                  "coverage_end",
                                                  "registered_hospital",
                                                  "benefit_level",
                                                  "citizen_id"};
constexpr std::array<std::string_view, 2> kSubjects{"citizen_id", "social_insurance_number"};
constexpr std::array<std::string_view, 2> kClaims{"health_insurance_card", "valid_on"};
constexpr Catalogue kCatalogue{
    "insurance", kOperations, kFields,
    kSubjects,   kClaims,     "social and health insurance: cards, coverage, hospital",
    kCommands};

void parse_verify(RequestReader& in, bus::v1::Request& env) {
  in.only({"citizen_id", "health_insurance_card", "valid_on"});
  in.citizen_subject(env, true, false);
  if (auto card = in.str("health_insurance_card", true, 32)) {
    if (auto norm = domain::normalize_health_card(*card)) {
      (*env.mutable_claims())["health_insurance_card"] = *norm;
    } else {
      in.error("health_insurance_card",
               "must be the 15-character card code: 2 letters, benefit level 1-5, 2-digit "
               "province, 10-digit social insurance number (e.g. DN4010123456789)");
    }
  }
  if (auto on = in.str("valid_on", false, 32)) {
    if (!domain::parse_iso_date(*on))
      in.error("valid_on", "must be an ISO 8601 calendar date, YYYY-MM-DD");
    (*env.mutable_claims())["valid_on"] = std::move(*on);
  }
}

void parse_lookup(RequestReader& in, Query& out) {
  in.only({"citizen_id", "social_insurance_number", "fields"});
  if (in.exactly_one("citizen_id", "social_insurance_number")) {
    if (in.has("citizen_id")) {
      in.citizen_subject(out.envelope, true, false);
    } else if (auto sin = in.str("social_insurance_number", true, 32)) {
      if (!domain::is_social_insurance_number(*sin)) {
        in.error("social_insurance_number", "must be exactly 10 digits");
      } else {
        set_subject(out.envelope, "social_insurance_number", std::move(*sin));
      }
    }
  }
  out.fields = in.fields(kCatalogue);
}

/// The synthetic world's health insurance: drawn from the shared holdings stream so that a
/// citizen's record does not depend on which registries are seeded.
class InsuranceSeeder final : public SeedWriter {
 public:
  InsuranceSeeder(std::unique_ptr<InsuranceWriter> w, std::uint64_t seed)
      : w_(std::move(w)), holdings_(seed) {}
  std::int64_t add(const domain::CitizenRecord& c) override {
    const auto row = holdings_.insurance_for(c);
    holdings_.vehicles_for(c);  // the same stream as the vehicle registry's seeder
    if (!row) return 0;
    w_->add(*row);
    return 1;
  }
  void finish(const Meta& meta) override { w_->finish(meta); }

 private:
  std::unique_ptr<InsuranceWriter> w_;
  seed::SyntheticHoldings holdings_;
};

class InsuranceModule final : public Module {
 public:
  const Catalogue& catalogue() const override { return kCatalogue; }

  void parse(std::string_view operation, RequestReader& in, Query& out) const override {
    if (operation == "lookup") {
      parse_lookup(in, out);
    } else {
      parse_verify(in, out.envelope);
    }
  }

  std::unique_ptr<connectors::RegistryService> open(const config::RegistryConfig& rc,
                                                    Clock now_ms) const override {
    return std::make_unique<Bound<InsuranceStore, InsuranceService>>(open_store(rc),
                                                                     std::move(now_ms));
  }

  std::unique_ptr<SeedWriter> seed(const config::RegistryConfig& rc,
                                   std::uint64_t seed) const override {
    return std::make_unique<InsuranceSeeder>(open_writer(rc), seed);
  }

  std::vector<json::object> samples(const config::RegistryConfig& rc,
                                    std::int64_t n) const override {
    std::vector<json::object> out;
    for (const auto& r : open_store(rc)->samples(n)) {
      out.push_back(json::object{{"registry", "insurance"},
                                 {"citizen_id", r.citizen_id},
                                 {"social_insurance_number", r.social_insurance_number},
                                 {"health_insurance_card", r.health_insurance_card},
                                 {"status", r.status},
                                 {"coverage_end", r.coverage_end}});
    }
    return out;
  }
};

}  // namespace

const Module& module() {
  static const InsuranceModule kModule;
  return kModule;
}

}  // namespace lgsp::registries::insurance
