#include "registries/vehicle/module.hpp"

#include <array>

#include "domain/identifiers.hpp"
#include "registries/request_reader.hpp"
#include "registries/vehicle/service.hpp"
#include "registries/vehicle/store.hpp"
#include "seed/registries.hpp"

namespace lgsp::registries::vehicle {
namespace {

namespace json = boost::json;

constexpr std::array<std::string_view, 3> kOperations{"verify", "lookup", "batch-verify"};
constexpr std::array<std::string_view, 10> kFields{
    "plate_number",  "owner_citizen_id", "vehicle_type",      "brand", "model", "colour",
    "engine_number", "chassis_number",   "registration_date", "status"};
constexpr std::array<std::string_view, 2> kSubjects{"plate_number", "citizen_id"};
constexpr std::array<std::string_view, 1> kClaims{"owner_citizen_id"};
constexpr Catalogue kCatalogue{"vehicle", kOperations,
                               kFields,   kSubjects,
                               kClaims,   "registered vehicles, their owners and standing"};

bool parse_plate(RequestReader& in, bus::v1::Request& env) {
  auto p = in.str("plate_number", true, 32);
  if (!p) return false;
  if (auto norm = domain::normalize_plate(*p)) {
    set_subject(env, "plate_number", std::move(*norm));
    return true;
  }
  in.error("plate_number", "must be a Vietnamese plate such as 29A-123.45 (29A12345 is accepted)");
  return false;
}

/// The synthetic world's vehicles: the shared holdings stream (see the insurance seeder).
class VehicleSeeder final : public SeedWriter {
 public:
  VehicleSeeder(std::unique_ptr<VehicleWriter> w, std::uint64_t seed)
      : w_(std::move(w)), holdings_(seed) {}
  std::int64_t add(const domain::CitizenRecord& c) override {
    holdings_.insurance_for(c);  // the same stream as the insurance registry's seeder
    const auto cars = holdings_.vehicles_for(c);
    for (const auto& v : cars) w_->add(v);
    return static_cast<std::int64_t>(cars.size());
  }
  void finish(const Meta& meta) override { w_->finish(meta); }

 private:
  std::unique_ptr<VehicleWriter> w_;
  seed::SyntheticHoldings holdings_;
};

class VehicleModule final : public Module {
 public:
  const Catalogue& catalogue() const override { return kCatalogue; }

  void parse(std::string_view operation, RequestReader& in, Query& out) const override {
    if (operation == "lookup") {
      in.only({"plate_number", "citizen_id", "fields"});
      if (in.exactly_one("plate_number", "citizen_id")) {
        if (in.has("plate_number")) {
          parse_plate(in, out.envelope);
        } else {
          in.citizen_subject(out.envelope, true, false);
        }
      }
      out.fields = in.fields(kCatalogue);
      return;
    }
    in.only({"plate_number", "citizen_id"});
    parse_plate(in, out.envelope);
    if (auto owner = in.citizen_id("citizen_id", true))
      (*out.envelope.mutable_claims())["owner_citizen_id"] = std::move(*owner);
  }

  std::unique_ptr<connectors::RegistryService> open(const config::RegistryConfig& rc,
                                                    Clock now_ms) const override {
    return std::make_unique<Bound<VehicleStore, VehicleService>>(open_store(rc), std::move(now_ms));
  }

  std::unique_ptr<SeedWriter> seed(const config::RegistryConfig& rc,
                                   std::uint64_t seed) const override {
    return std::make_unique<VehicleSeeder>(open_writer(rc), seed);
  }

  std::vector<json::object> samples(const config::RegistryConfig& rc,
                                    std::int64_t n) const override {
    std::vector<json::object> out;
    for (const auto& r : open_store(rc)->samples(n)) {
      out.push_back(json::object{{"registry", "vehicle"},
                                 {"plate_number", r.plate_number},
                                 {"citizen_id", r.owner_citizen_id},
                                 {"vehicle_type", r.vehicle_type},
                                 {"status", r.status}});
    }
    return out;
  }
};

}  // namespace

const Module& module() {
  static const VehicleModule kModule;
  return kModule;
}

}  // namespace lgsp::registries::vehicle
