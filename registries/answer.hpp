#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <string_view>
#include <utility>

#include "bus/envelope.hpp"

namespace lgsp::registries {

/// A lookup's answer, as the module shapes it: the members the partner's JSON answer gets
/// besides request_id and source. Minimised by the module to the fields the request names;
/// the gateway checks every record against those fields again before releasing it.
inline void set_answer(bus::v1::Reply& reply, const boost::json::object& members) {
  reply.set_status(bus::v1::STATUS_OK);
  reply.set_answer_json(boost::json::serialize(members));
}

/// {"record":{…}}: the usual answer, one record.
inline void set_record(bus::v1::Reply& reply, boost::json::object record) {
  set_answer(reply, boost::json::object{{"record", std::move(record)}});
}

/// {"<name>":[{…},…]}: a list of records (a citizen's vehicles).
inline void set_list(bus::v1::Reply& reply, std::string_view name, boost::json::array records) {
  boost::json::object members;
  members[name] = std::move(records);
  set_answer(reply, members);
}

}  // namespace lgsp::registries
