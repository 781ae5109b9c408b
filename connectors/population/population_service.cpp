#include "connectors/population/population_service.hpp"

#include "connectors/population/matching.hpp"

namespace lgsp::connectors::population {

namespace v1 = bus::v1;

PopulationService::PopulationService(PopulationStore& store, Clock now_ms)
    : store_(store), now_ms_(std::move(now_ms)) {}

v1::Reply PopulationService::handle(const v1::Request& req) {
  v1::Reply reply;
  reply.set_request_id(req.request_id());
  reply.mutable_source()->set_registry("population");

  const auto found = req.has_legacy_id_number() ? store_.find_by_legacy_id(req.legacy_id_number())
                                                : store_.find_citizen(req.citizen_id());
  reply.mutable_source()->set_as_of_unix_ms(now_ms_());
  if (!found) {
    fail(reply, v1::STATUS_BACKEND_ERROR, "population store: " + found.error().message());
    return reply;
  }
  const domain::CitizenRecord* rec = found->has_value() ? &**found : nullptr;
  if (rec != nullptr && req.has_legacy_id_number()) reply.add_subject_citizen_ids(rec->citizen_id);
  switch (req.operation()) {
    case v1::OPERATION_VERIFY:
      verify(req, rec, reply);
      break;
    case v1::OPERATION_LOOKUP:
      if (rec == nullptr) {
        fail(reply, v1::STATUS_NOT_FOUND, "no citizen with this ID in the population registry");
      } else {
        lookup(req, *rec, reply);
      }
      break;
    default:
      fail(reply, v1::STATUS_BAD_REQUEST, "operation not supported by the population registry");
  }
  return reply;
}

void PopulationService::verify(const v1::Request& req, const domain::CitizenRecord* rec,
                               v1::Reply& out) const {
  out.set_status(v1::STATUS_OK);
  auto* result = out.mutable_verify();
  result->set_subject_found(rec != nullptr);
  if (rec == nullptr) {
    result->set_match(false);
    return;
  }
  bool all = true;
  const v1::Grade required =
      req.required_grade() == v1::GRADE_UNSPECIFIED ? v1::GRADE_EXACT : req.required_grade();
  const auto add = [&](const char* field, v1::Grade g) {
    auto* fg = result->add_fields();
    fg->set_field(field);
    fg->set_grade(g);
    all = all && meets(g, required);
  };
  const auto& c = req.claims();
  if (c.has_full_name())
    add("full_name", grade_name(c.full_name(), rec->full_name, req.name_matching()));
  if (c.has_date_of_birth())
    add("date_of_birth", grade_date(c.date_of_birth(), rec->date_of_birth));
  if (c.has_gender()) add("gender", grade_gender(c.gender(), rec->gender));
  result->set_match(all && result->fields_size() > 0);
}

void PopulationService::lookup(const v1::Request& req, const domain::CitizenRecord& rec,
                               v1::Reply& out) const {
  out.set_status(v1::STATUS_OK);
  auto* r = out.mutable_citizen();
  // Only what the gateway asked for (already limited to the partner's grant) leaves here.
  for (const auto& f : req.fields()) {
    if (f == "full_name") {
      r->set_full_name(rec.full_name);
    } else if (f == "date_of_birth") {
      r->set_date_of_birth(rec.date_of_birth);
    } else if (f == "gender") {
      r->set_gender(rec.gender);
    } else if (f == "place_of_origin") {
      r->set_place_of_origin(rec.place_of_origin);
    } else if (f == "permanent_address") {
      auto* a = r->mutable_permanent_address();
      a->set_province(rec.province);
      a->set_district(rec.district);
      a->set_commune(rec.commune);
    } else if (f == "id_card_issue_date") {
      r->set_id_card_issue_date(rec.id_card_issue_date);
    }
  }
}

}  // namespace lgsp::connectors::population
