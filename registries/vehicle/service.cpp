#include "registries/vehicle/service.hpp"

#include <boost/json/array.hpp>

#include "registries/answer.hpp"

namespace lgsp::registries::vehicle {

namespace v1 = bus::v1;
using connectors::begin_verify;
using connectors::fail;
using connectors::grade;

VehicleService::VehicleService(VehicleStore& store, Clock now_ms)
    : store_(store), now_ms_(std::move(now_ms)) {}

boost::json::object record_json(const domain::VehicleRow& row,
                                const google::protobuf::RepeatedPtrField<std::string>& fields) {
  boost::json::object out;
  for (const auto& f : fields) {
    if (f == "plate_number")
      out["plate_number"] = row.plate_number;
    else if (f == "owner_citizen_id")
      out["owner_citizen_id"] = row.owner_citizen_id;
    else if (f == "vehicle_type")
      out["vehicle_type"] = row.vehicle_type;
    else if (f == "brand")
      out["brand"] = row.brand;
    else if (f == "model")
      out["model"] = row.model;
    else if (f == "colour")
      out["colour"] = row.colour;
    else if (f == "engine_number")
      out["engine_number"] = row.engine_number;
    else if (f == "chassis_number")
      out["chassis_number"] = row.chassis_number;
    else if (f == "registration_date")
      out["registration_date"] = row.registration_date;
    else if (f == "status")
      out["status"] = row.status;
  }
  return out;
}

v1::Reply VehicleService::handle(const v1::Request& req) {
  v1::Reply reply;
  reply.set_request_id(req.request_id());
  reply.mutable_source()->set_registry("vehicle");
  reply.mutable_source()->set_as_of_unix_ms(now_ms_());
  const auto backend_error = [&](const boost::system::error_code& ec) {
    connectors::fail_store(reply, "vehicle", ec);
    return reply;
  };

  if (req.operation() == v1::OPERATION_LOOKUP && req.subject_key() == "citizen_id") {
    const auto rows = store_.find_by_owner(req.subject());
    if (!rows) return backend_error(rows.error());
    boost::json::array list;
    for (const auto& row : *rows) list.push_back(record_json(row, req.fields()));
    set_list(reply, "vehicles", std::move(list));
    return reply;
  }
  const auto found = store_.find_by_plate(req.subject());
  if (!found) return backend_error(found.error());
  const auto& row = *found;
  if (row) reply.add_subject_citizen_ids(row->owner_citizen_id);
  if (req.operation() == v1::OPERATION_LOOKUP) {
    if (!row) {
      fail(reply, v1::STATUS_NOT_FOUND, "no vehicle with this plate");
      return reply;
    }
    set_list(reply, "vehicles", boost::json::array{record_json(*row, req.fields())});
    return reply;
  }
  if (req.operation() != v1::OPERATION_VERIFY) {
    fail(reply, v1::STATUS_BAD_REQUEST, "operation not supported by the vehicle registry");
    return reply;
  }
  auto* result = begin_verify(reply, row.has_value(), "in_good_standing");
  if (result == nullptr) return reply;
  const auto claimed = req.claims().find("owner_citizen_id");
  const bool owner = claimed != req.claims().end() && claimed->second == row->owner_citizen_id;
  grade(*result, "owner_citizen_id", owner);
  const bool good = row->status == "registered";
  (*result->mutable_facts())["in_good_standing"] = good;
  result->set_match(owner && good);
  return reply;
}

}  // namespace lgsp::registries::vehicle
