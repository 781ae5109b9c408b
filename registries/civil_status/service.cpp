#include "registries/civil_status/service.hpp"

#include <boost/json/array.hpp>

#include "registries/answer.hpp"
#include "registries/matching.hpp"

namespace lgsp::registries::civil_status {
namespace {

namespace v1 = bus::v1;
using connectors::fail;

const CivilEvent* first_of(const std::vector<CivilEvent>& events, std::string_view kind) {
  for (const auto& e : events) {
    if (e.kind == kind) return &e;
  }
  return nullptr;
}

/// The marriage a claim is about: with the claimed spouse when one is named, else the one
/// whose date agrees best with the claimed date (or the first).
const CivilEvent* claimed_marriage(const std::vector<CivilEvent>& events, const std::string* spouse,
                                   const std::string* date) {
  const CivilEvent* best = nullptr;
  for (const auto& e : events) {
    if (e.kind != "marriage") continue;
    if (spouse != nullptr && e.spouse_citizen_id != *spouse) continue;
    if (best == nullptr ||
        (date != nullptr && grade_date(*date, e.event_date) < grade_date(*date, best->event_date)))
      best = &e;
  }
  return best;
}

void verify(const v1::Request& req, const std::vector<CivilEvent>& events, v1::Reply& out) {
  out.set_status(v1::STATUS_OK);
  auto* result = out.mutable_verify();
  result->set_subject_found(!events.empty());
  if (events.empty()) {
    // Like the other registries: nothing graded for a citizen the registry does not hold.
    result->set_match(false);
    return;
  }
  const v1::Grade required =
      req.required_grade() == v1::GRADE_UNSPECIFIED ? v1::GRADE_EXACT : req.required_grade();
  bool all = true;
  const auto add = [&](const char* field, v1::Grade g) {
    auto* fg = result->add_fields();
    fg->set_field(field);
    fg->set_grade(g);
    all = all && meets(g, required);
  };
  const auto claim = [&](const char* key) -> const std::string* {
    const auto it = req.claims().find(key);
    return it == req.claims().end() ? nullptr : &it->second;
  };
  const CivilEvent* death = first_of(events, "death");
  if (const auto* deceased = claim("deceased")) {
    add("deceased",
        (*deceased == "true") == (death != nullptr) ? v1::GRADE_EXACT : v1::GRADE_MISMATCH);
  }
  if (const auto* date = claim("date_of_death")) {
    add("date_of_death",
        death != nullptr ? grade_date(*date, death->event_date) : v1::GRADE_MISMATCH);
  }
  const auto* spouse = claim("spouse_citizen_id");
  const auto* married_on = claim("marriage_date");
  if (spouse != nullptr) out.add_subject_citizen_ids(*spouse);
  if (spouse != nullptr || married_on != nullptr) {
    const CivilEvent* m = claimed_marriage(events, spouse, married_on);
    if (spouse != nullptr)
      add("spouse_citizen_id", m != nullptr ? v1::GRADE_EXACT : v1::GRADE_MISMATCH);
    if (married_on != nullptr) {
      add("marriage_date",
          m != nullptr ? grade_date(*married_on, m->event_date) : v1::GRADE_MISMATCH);
    }
  }
  result->set_match(all && result->fields_size() > 0);
}

}  // namespace

CivilStatusService::CivilStatusService(CivilStatusStore& store, Clock now_ms)
    : store_(store), now_ms_(std::move(now_ms)) {}

boost::json::object event_json(const CivilEvent& e,
                               const google::protobuf::RepeatedPtrField<std::string>& fields) {
  boost::json::object out;
  for (const auto& f : fields) {
    if (f == "kind")
      out["kind"] = e.kind;
    else if (f == "registration_number")
      out["registration_number"] = e.registration_number;
    else if (f == "event_date")
      out["event_date"] = e.event_date;
    else if (f == "place_of_registration")
      out["place_of_registration"] = e.place_of_registration;
    else if (f == "registered_on")
      out["registered_on"] = e.registered_on;
    else if (f == "spouse_citizen_id" && e.kind == "marriage")
      out["spouse_citizen_id"] = e.spouse_citizen_id;
    else if (f == "status")
      out["status"] = e.status;
  }
  return out;
}

v1::Reply CivilStatusService::handle(const v1::Request& req) {
  if (req.operation() == v1::OPERATION_COMMAND)
    return answer_command("civil-status", kCommands, req,
                          [this](const v1::Request& c) { return store_.apply(c); });
  v1::Reply reply;
  reply.set_request_id(req.request_id());
  reply.mutable_source()->set_registry("civil-status");
  reply.mutable_source()->set_as_of_unix_ms(now_ms_());
  const auto events = store_.find_by_citizen(req.subject());
  if (!events) {
    connectors::fail_store(reply, "civil-status", events.error());
    return reply;
  }
  switch (req.operation()) {
    case v1::OPERATION_VERIFY:
      verify(req, *events, reply);
      return reply;
    case v1::OPERATION_LOOKUP: {
      if (events->empty()) {
        fail(reply, v1::STATUS_NOT_FOUND, "no civil-status registration for this citizen");
        return reply;
      }
      boost::json::array list;
      for (const auto& e : *events) {
        // The other spouse's data is read too: their access log must show it.
        if (e.kind == "marriage") reply.add_subject_citizen_ids(e.spouse_citizen_id);
        list.push_back(event_json(e, req.fields()));
      }
      set_list(reply, "events", std::move(list));
      return reply;
    }
    default:
      fail(reply, v1::STATUS_BAD_REQUEST, "operation not supported by the civil-status registry");
      return reply;
  }
}

}  // namespace lgsp::registries::civil_status
