#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "changes/feed.hpp"
#include "gateway/admission.hpp"
#include "gateway/auth.hpp"
#include "http/server.hpp"

namespace lgsp::changes {

/// The kinds a partner with these change grants reads ("<registry>.<command>"), each with its
/// data members: its grants, and the undo of each granted command (a change taken back, with
/// no data).
std::map<std::string, std::set<std::string>> readable_kinds(
    const std::map<std::string, std::set<std::string>>& grants);

/// One change as a feed answer (and a webhook delivery) carries it: only `members` of its
/// data; each member released is added to `released` as "<registry>.<member>".
boost::json::object change_json(const Change& c, const std::set<std::string>& members,
                                std::set<std::string>& released);

/// What one feed read did, for the handler's audit event.
struct FeedCall {
  http::Response res;
  std::vector<std::string> subjects;  // the citizens whose changes were delivered
  std::string purpose;
  std::vector<std::string> released;  // "<registry>.<member>"
};

/// GET /v1/changes?purpose=P&after=CURSOR&limit=N&wait=S, behind the API handler's
/// authentication: the changes after CURSOR (an offset of the changes topic; absent: from the
/// oldest kept) of the kinds the partner is granted, each with only the data members granted
/// for its kind, oldest first, at most N (1-1000, default 100); when there are none, waits up
/// to S seconds (0 to changes.max_wait_s, default 0) for one. Answers {"changes":[…],"next"}
/// with the cursor to ask after next time; a cursor older than what retention deleted is
/// 410 cursor-expired. Audited like every read: the citizens delivered are its subjects.
class ChangesApi {
 public:
  explicit ChangesApi(ChangeFeed& feed) : feed_(feed) {}

  static bool matches(std::string_view target);

  boost::asio::awaitable<FeedCall> handle(const http::Request& req, const gateway::Partner& partner,
                                          const std::string& request_id,
                                          gateway::Admission& admission);

 private:
  ChangeFeed& feed_;
};

}  // namespace lgsp::changes
