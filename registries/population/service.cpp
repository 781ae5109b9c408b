#include "registries/population/service.hpp"

#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/json.hpp>

#include "registries/answer.hpp"
#include "registries/matching.hpp"

namespace lgsp::registries::population {

namespace v1 = bus::v1;
namespace json = boost::json;
using connectors::fail;

namespace {

bool by_legacy_id(const v1::Request& req) { return req.subject_key() == "legacy_id_number"; }

}  // namespace

PopulationService::PopulationService(PopulationStore& store, Clock now_ms)
    : store_(store), now_ms_(std::move(now_ms)) {}

v1::Reply PopulationService::handle(const v1::Request& req) {
  if (req.operation() == v1::OPERATION_COMMAND)
    return answer_command("population", kCommands, req,
                          [this](const v1::Request& c) { return store_.apply(c); });
  v1::Reply reply;
  answer_one(req, reply);
  return reply;
}

void PopulationService::answer_one(const v1::Request& req, v1::Reply& out) {
  const auto found = by_legacy_id(req) ? store_.find_by_legacy_id(req.subject())
                                       : store_.find_citizen(req.subject());
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
    if (!by_legacy_id(item)) ids.push_back(item.subject());
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
    if (by_legacy_id(item)) {
      answer_one(item, reply);
      continue;
    }
    const auto it = by_id.find(item.subject());
    answer(item, it == by_id.end() ? nullptr : it->second, as_of, reply);
  }
}

void PopulationService::answer(const v1::Request& req, const Found& found, std::int64_t as_of,
                               v1::Reply& reply) const {
  reply.set_request_id(req.request_id());
  reply.mutable_source()->set_registry("population");
  reply.mutable_source()->set_as_of_unix_ms(as_of);
  if (!found) {
    connectors::fail_store(reply, "population", found.error());
    return;
  }
  const domain::CitizenRecord* rec = *found;
  if (rec != nullptr && by_legacy_id(req)) reply.add_subject_citizen_ids(rec->citizen_id);
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
  // In a fixed order, whatever the map's: the answer lists the grades the same way each time.
  const auto& c = req.claims();
  if (const auto it = c.find("full_name"); it != c.end())
    add("full_name", grade_name(it->second, rec->full_name, req.name_matching()));
  if (const auto it = c.find("date_of_birth"); it != c.end())
    add("date_of_birth", grade_date(it->second, rec->date_of_birth));
  if (const auto it = c.find("gender"); it != c.end())
    add("gender", grade_gender(it->second, rec->gender));
  result->set_match(all && result->fields_size() > 0);
}

void PopulationService::lookup(const v1::Request& req, const domain::CitizenRecord& rec,
                               v1::Reply& out) const {
  out.set_status(v1::STATUS_OK);
  json::object r;
  // Only what the gateway asked for (already limited to the partner's grant) leaves here.
  for (const auto& f : req.fields()) {
    if (f == "full_name") {
      r["full_name"] = rec.full_name;
    } else if (f == "date_of_birth") {
      r["date_of_birth"] = rec.date_of_birth;
    } else if (f == "gender") {
      r["gender"] = rec.gender;
    } else if (f == "place_of_origin") {
      r["place_of_origin"] = rec.place_of_origin;
    } else if (f == "permanent_address") {
      // null: no permanent residence (deregistered, as on a death).
      if (rec.province.empty()) {
        r["permanent_address"] = nullptr;
      } else {
        r["permanent_address"] = json::object{
            {"province", rec.province}, {"district", rec.district}, {"commune", rec.commune}};
      }
    } else if (f == "id_card_issue_date") {
      r["id_card_issue_date"] = rec.id_card_issue_date;
    }
  }
  set_record(out, std::move(r));
}

}  // namespace lgsp::registries::population
