#include "gateway/admission.hpp"

#include <algorithm>
#include <string>

namespace lgsp::gateway {

namespace bhttp = boost::beast::http;
using http::Problem;
using http::problem;
using http::Status;

std::optional<Problem> Admission::open(bool draining) const {
  if (!draining) return std::nullopt;
  probe_.rejected("draining");
  return problem(Status::service_unavailable, "shutting-down", "The gateway is shutting down",
                 "retry against another instance");
}

std::variant<const Partner*, Problem> Admission::authenticate(const PartnerDirectory& directory,
                                                              std::string_view authorization,
                                                              const http::PeerInfo& peer) const {
  const AuthResult auth =
      directory.authenticate(authorization, peer, std::chrono::system_clock::now());
  if (auth.partner != nullptr) return auth.partner;
  probe_.rejected("auth");
  return problem(Status::unauthorized, "unauthenticated", "Authentication required",
                 auth_detail(auth));
}

std::optional<Problem> Admission::authorise(const Partner& partner, std::string_view registry,
                                            std::string_view operation) const {
  if (partner.may(registry, operation)) return std::nullopt;
  probe_.rejected("forbidden");
  return problem(Status::forbidden, "operation-not-allowed", "Operation not allowed",
                 "partner '" + partner.id + "' may not call " + std::string(registry) + "." +
                     std::string(operation));
}

std::optional<Problem> Admission::purpose(const Partner& partner, std::string_view purpose,
                                          bool consent_possible) const {
  if (!partner.may_state(purpose)) {
    probe_.rejected("purpose");
    return problem(Status::forbidden, "purpose-not-allowed", "Purpose not allowed",
                   "partner '" + partner.id + "' is not registered for this purpose",
                   {{"purpose", "not one of the purposes registered for this partner"}});
  }
  if (consent_possible || consents_ == nullptr || !consents_->needs(purpose)) return std::nullopt;
  probe_.rejected("consent");
  return problem(Status::forbidden, "consent-required", "The citizen's consent is required",
                 "this purpose needs each citizen's consent, which this kind of request cannot "
                 "carry; send single requests about one citizen with its consent_id",
                 {{"purpose", "needs the citizen's consent (consents.purposes)"}});
}

std::optional<Problem> Admission::limit(const Partner& partner, std::string_view registry,
                                        std::string_view operation,
                                        RateLimiter::Decision& decision) {
  const std::string name = std::string(registry) + "." + std::string(operation);
  const auto op_limit = partner.operation_limits.find(name);
  decision = limiter_.admit(
      partner.id, name, partner.rate_limit,
      op_limit == partner.operation_limits.end() ? nullptr : &op_limit->second, partner.daily_quota,
      std::chrono::steady_clock::now(), std::chrono::system_clock::now());
  using Verdict = RateLimiter::Decision::Verdict;
  if (decision.verdict == Verdict::kRateLimited) {
    probe_.rejected("rate");
    return problem(Status::too_many_requests, "rate-limited", "Too many requests",
                   "partner '" + partner.id + "' is over its rate limit; retry after " +
                       std::to_string(decision.retry_after.count()) + " ms");
  }
  if (decision.verdict == Verdict::kQuotaExhausted) {
    probe_.rejected("quota");
    return problem(Status::too_many_requests, "quota-exhausted", "Daily quota exhausted",
                   "partner '" + partner.id + "' has used its daily quota of " +
                       std::to_string(decision.quota_limit) + " requests; it renews at 00:00 UTC");
  }
  if (decision.verdict == Verdict::kQuotaUnavailable) return quota_unavailable(partner);
  return std::nullopt;
}

Problem Admission::quota_unavailable(const Partner& partner) const {
  probe_.rejected("quota_unavailable");
  return problem(Status::service_unavailable, "quota-unavailable", "Quota cannot be checked",
                 "the store the gateway replicas share partner '" + partner.id +
                     "''s daily quota through cannot be reached; retry in a few seconds");
}

std::optional<http::Problem> Admission::take_quota(const Partner& partner, std::int64_t units,
                                                   std::string_view what,
                                                   RateLimiter::Decision& decision) {
  decision =
      limiter_.take_quota(partner.id, partner.daily_quota, units, std::chrono::system_clock::now());
  if (decision.allowed()) return std::nullopt;
  if (decision.verdict == RateLimiter::Decision::Verdict::kQuotaUnavailable)
    return quota_unavailable(partner);
  probe_.rejected("quota");
  return problem(Status::too_many_requests, "quota-exhausted", "Daily quota exhausted",
                 "partner '" + partner.id + "' has " + std::to_string(decision.quota_remaining) +
                     " of its daily quota of " + std::to_string(decision.quota_limit) +
                     " left, and " + std::string(what) + " needs " + std::to_string(units) +
                     "; it renews at 00:00 UTC");
}

void Admission::decorate(http::Response& res, const RateLimiter::Decision* decision) {
  if (res.result() == Status::unauthorized)
    res.set(bhttp::field::www_authenticate, "Bearer realm=\"lgsp\"");
  if (decision == nullptr) return;
  if (decision->quota_limit > 0) {
    res.set("X-Quota-Limit", std::to_string(decision->quota_limit));
    res.set("X-Quota-Remaining", std::to_string(decision->quota_remaining));
  }
  if (!decision->allowed()) {
    const auto seconds = (decision->retry_after.count() + 999) / 1000;
    res.set(bhttp::field::retry_after, std::to_string(std::max<std::int64_t>(1, seconds)));
  }
}

}  // namespace lgsp::gateway
