#pragma once

#include <chrono>
#include <optional>
#include <string_view>
#include <variant>

#include "consents/book.hpp"
#include "gateway/auth.hpp"
#include "gateway/gateway_probe.hpp"
#include "gateway/rate_limiter.hpp"
#include "http/problem.hpp"
#include "http/server.hpp"

namespace lgsp::gateway {

/// The admission every partner request passes, whatever its shape: the interactive pipeline
/// (ApiHandler::handle), the streamed bulk routes (handle_stream) and a bulk submission
/// (BatchApi) take the same steps with the same problems, so a partner meets one set of
/// rules, worded one way, at every door. Each step answers nullopt (go on) or the problem to
/// answer, and counts its refusals (lgsp_gateway_rejections_total{reason}). The audit event of
/// the answer is the caller's last step (ApiHandler::account). Thread-safe.
class Admission {
 public:
  /// `consents`: which purposes need the citizen's consent (null: none).
  Admission(GatewayProbe& probe, RateLimiter& limiter,
            const consents::ConsentBook* consents = nullptr)
      : probe_(probe), limiter_(limiter), consents_(consents) {}

  /// 503 while the gateway drains.
  std::optional<http::Problem> open(bool draining) const;
  /// The partner the Authorization header (or the client certificate) names, or the 401.
  std::variant<const Partner*, http::Problem> authenticate(const PartnerDirectory& directory,
                                                           std::string_view authorization,
                                                           const http::PeerInfo& peer) const;
  /// 403 unless `partner` may call `registry`.`operation`.
  std::optional<http::Problem> authorise(const Partner& partner, std::string_view registry,
                                         std::string_view operation) const;
  /// 403 unless `partner` is registered for `purpose` (naming the field). A purpose that needs
  /// the citizen's consent is refused too unless the request can carry one (`consent_possible`:
  /// single requests about one citizen; not bulk jobs, change feeds or procedures).
  std::optional<http::Problem> purpose(const Partner& partner, std::string_view purpose,
                                       bool consent_possible = false) const;
  /// The partner's rate limits and daily quota for one request of `registry`.`operation`;
  /// `decision` is kept for the answer's headers (decorate). A refused request consumes
  /// neither.
  std::optional<http::Problem> limit(const Partner& partner, std::string_view registry,
                                     std::string_view operation, RateLimiter::Decision& decision);

  /// `units` of the partner's daily quota at once (a bulk job's records, a profile's extra
  /// registries), or the 429 naming how many are left; `decision` as for limit().
  std::optional<http::Problem> take_quota(const Partner& partner, std::int64_t units,
                                          std::string_view what, RateLimiter::Decision& decision);

  /// The headers an answer owes the partner: WWW-Authenticate on a 401, X-Quota-Limit and
  /// X-Quota-Remaining when a quota applies, Retry-After when a limit refused.
  static void decorate(http::Response& res, const RateLimiter::Decision* decision);

 private:
  /// 503: the shared quota ledger cannot be asked (a cluster's store is unreachable).
  http::Problem quota_unavailable(const Partner& partner) const;

  GatewayProbe& probe_;
  RateLimiter& limiter_;
  const consents::ConsentBook* consents_;
};

}  // namespace lgsp::gateway
