#include "connectors/vehicle/vehicle_service.hpp"

namespace lgsp::connectors::vehicle {

namespace v1 = bus::v1;

VehicleService::VehicleService(VehicleStore& store, Clock now_ms)
    : store_(store), now_ms_(std::move(now_ms)) {}

void copy_fields(const domain::VehicleRow& row,
                 const google::protobuf::RepeatedPtrField<std::string>& fields,
                 v1::VehicleRecord& out) {
  for (const auto& f : fields) {
    if (f == "plate_number")
      out.set_plate_number(row.plate_number);
    else if (f == "owner_citizen_id")
      out.set_owner_citizen_id(row.owner_citizen_id);
    else if (f == "vehicle_type")
      out.set_vehicle_type(row.vehicle_type);
    else if (f == "brand")
      out.set_brand(row.brand);
    else if (f == "model")
      out.set_model(row.model);
    else if (f == "colour")
      out.set_colour(row.colour);
    else if (f == "engine_number")
      out.set_engine_number(row.engine_number);
    else if (f == "chassis_number")
      out.set_chassis_number(row.chassis_number);
    else if (f == "registration_date")
      out.set_registration_date(row.registration_date);
    else if (f == "status")
      out.set_status(row.status);
  }
}

v1::Reply VehicleService::handle(const v1::Request& req) {
  v1::Reply reply;
  reply.set_request_id(req.request_id());
  reply.mutable_source()->set_registry("vehicle");
  reply.mutable_source()->set_as_of_unix_ms(now_ms_());
  const auto backend_error = [&](const boost::system::error_code& ec) {
    fail(reply, v1::STATUS_BACKEND_ERROR, "vehicle store: " + ec.message());
    return reply;
  };

  if (req.operation() == v1::OPERATION_LOOKUP && req.has_citizen_id()) {
    const auto rows = store_.find_by_owner(req.citizen_id());
    if (!rows) return backend_error(rows.error());
    reply.set_status(v1::STATUS_OK);
    auto* list = reply.mutable_vehicles();
    for (const auto& row : *rows) copy_fields(row, req.fields(), *list->add_vehicles());
    return reply;
  }
  const auto found = store_.find_by_plate(req.plate_number());
  if (!found) return backend_error(found.error());
  const auto& row = *found;
  if (row) reply.add_subject_citizen_ids(row->owner_citizen_id);
  if (req.operation() == v1::OPERATION_LOOKUP) {
    if (!row) {
      fail(reply, v1::STATUS_NOT_FOUND, "no vehicle with this plate");
      return reply;
    }
    reply.set_status(v1::STATUS_OK);
    copy_fields(*row, req.fields(), *reply.mutable_vehicles()->add_vehicles());
    return reply;
  }
  if (req.operation() != v1::OPERATION_VERIFY) {
    fail(reply, v1::STATUS_BAD_REQUEST, "operation not supported by the vehicle registry");
    return reply;
  }
  auto* result = begin_verify(reply, row.has_value(), "in_good_standing");
  if (result == nullptr) return reply;
  const bool owner = req.claims().owner_citizen_id() == row->owner_citizen_id;
  grade(*result, "owner_citizen_id", owner);
  const bool good = row->status == "registered";
  (*result->mutable_facts())["in_good_standing"] = good;
  result->set_match(owner && good);
  return reply;
}

}  // namespace lgsp::connectors::vehicle
