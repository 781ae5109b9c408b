#include "connectors/population/population_service.hpp"

#include <string_view>
#include <unordered_map>
#include <vector>

#include "connectors/population/matching.hpp"

namespace lgsp::connectors::population {

namespace v1 = bus::v1;

PopulationService::PopulationService(PopulationStore& store, Clock now_ms)
    : store_(store), now_ms_(std::move(now_ms)) {}

v1::Reply PopulationService::handle(const v1::Request& req) {
  v1::Reply reply;
  answer_one(req, reply);
  return reply;
}

void PopulationService::answer_one(const v1::Request& req, v1::Reply& out) {
  const auto found = req.has_legacy_id_number() ? store_.find_by_legacy_id(req.legacy_id_number())
                                                : store_.find_citizen(req.citizen_id());
  const std::int64_t as_of = now_ms_();
  if (!found) return answer(req, found.error(), as_of, out);
  answer(req, found->has_value() ? &**found : nullptr, as_of, out);
}

void PopulationService::handle_batch(const v1::Request& chunk, v1::Reply& out) {
  out.set_request_id(chunk.request_id());
  out.set_status(v1::STATUS_OK);
  // One query for every item named by citizen ID; the rest (legacy IDs) one by one.
  std::vector<std::string> ids;
  ids.reserve(static_cast<std::size_t>(chunk.batch_size()));
  for (const auto& item : chunk.batch()) {
    if (item.has_citizen_id()) ids.push_back(item.citizen_id());
  }
  const auto records = store_.find_citizens(ids);
  const std::int64_t as_of = now_ms_();
  if (!records) {
    // The store cannot answer now: every item fails (the gateway sends them again), rather
    // than some items waiting on the store's timeout one by one.
    for (const auto& item : chunk.batch()) answer(item, records.error(), as_of, *out.add_batch());
    return;
  }
  std::unordered_map<std::string_view, const domain::CitizenRecord*> by_id;
  by_id.reserve(records->size());
  for (const auto& rec : *records) by_id.emplace(rec.citizen_id, &rec);
  for (const auto& item : chunk.batch()) {
    v1::Reply& reply = *out.add_batch();
    if (!item.has_citizen_id()) {
      answer_one(item, reply);
      continue;
    }
    const auto it = by_id.find(item.citizen_id());
    answer(item, it == by_id.end() ? nullptr : it->second, as_of, reply);
  }
}

void PopulationService::answer(const v1::Request& req, const Found& found, std::int64_t as_of,
                               v1::Reply& reply) const {
  reply.set_request_id(req.request_id());
  reply.mutable_source()->set_registry("population");
  reply.mutable_source()->set_as_of_unix_ms(as_of);
  if (!found) {
    fail(reply, v1::STATUS_BACKEND_ERROR, "population store: " + found.error().message());
    return;
  }
  const domain::CitizenRecord* rec = *found;
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
