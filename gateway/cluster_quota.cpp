#include "gateway/cluster_quota.hpp"

#include <algorithm>
#include <cmath>
#include <pqxx/pqxx>
#include <stdexcept>
#include <utility>

#include "observability/log.hpp"

namespace lgsp::gateway {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Serialises table creation across replicas starting together: "lgspquot" in ASCII.
constexpr const char* kSchemaLock = "SELECT pg_advisory_xact_lock(7811339005474467700)";
// With a partner's hash as second key, serialises the grants of one partner's quota.
constexpr int kPartnerLockClass = 0x6c677371;  // "lgsq"
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS quota_grants ("
    " partner_id TEXT NOT NULL, day BIGINT NOT NULL, owner TEXT NOT NULL,"
    " granted BIGINT NOT NULL, PRIMARY KEY (partner_id, day, owner))";
/// How long a partner found exhausted is answered from memory before the store is asked
/// again (a stopping replica may have returned its unused slice).
constexpr auto kExhaustedFor = 30s;
/// After the store failed, how long before it is tried again (meanwhile: kUnavailable).
constexpr auto kStoreRetry = 5s;
/// Grants older than this many days are deleted now and then.
constexpr std::int64_t kKeepDays = 7;

}  // namespace

struct ClusterQuota::Connection {
  explicit Connection(const std::string& dsn) : db(dsn) {}
  pqxx::connection db;
};

ClusterQuota::ClusterQuota(std::string dsn, std::string owner, double slice_fraction)
    : dsn_(std::move(dsn)), owner_(std::move(owner)), slice_fraction_(slice_fraction) {
  try {
    pqxx::work tx(connection().db);
    tx.exec(kSchemaLock);
    tx.exec(kSchema);
    tx.commit();
  } catch (const pqxx::failure& e) {
    throw std::runtime_error(std::string("cluster store: cannot open the quota ledger: ") +
                             e.what());
  }
}

ClusterQuota::~ClusterQuota() {
  std::lock_guard lock(mu_);
  try {
    pqxx::work tx(connection().db);
    for (const auto& [id, p] : partners_) {
      if (p.allowance <= 0) continue;
      tx.exec_params(
          "UPDATE quota_grants SET granted = granted - $4 WHERE partner_id = $1 AND day = $2"
          " AND owner = $3",
          id, p.day, owner_, p.allowance);
    }
    tx.commit();
  } catch (const std::exception& e) {
    obs::warn("quota_slices_not_returned", {{"error", e.what()}});
  }
}

QuotaLedger::Take ClusterQuota::take(const std::string& partner_id, std::int64_t quota,
                                     std::int64_t units, std::int64_t day) {
  std::lock_guard lock(mu_);
  Partner& p = partners_[partner_id];
  if (p.day != day) p = Partner{day};
  const auto remaining = [&] {
    return std::max<std::int64_t>(0, quota - p.cluster_granted) + p.allowance;
  };
  if (p.allowance >= units) {
    p.allowance -= units;
    return {Verdict::kTaken, remaining()};
  }
  const auto now = Clock::now();
  if (now < p.exhausted_until) return {Verdict::kExhausted, remaining()};
  if (now < store_retry_at_) return {Verdict::kUnavailable, remaining()};
  const std::int64_t need = units - p.allowance;
  const auto slice = std::max<std::int64_t>(
      1, static_cast<std::int64_t>(std::floor(static_cast<double>(quota) * slice_fraction_)));
  std::int64_t granted = 0;
  try {
    granted = grant(partner_id, day, quota, std::max(need, slice), need, p.cluster_granted);
  } catch (const std::exception& e) {
    conn_.reset();
    store_retry_at_ = now + kStoreRetry;
    obs::error("quota_store_unavailable", {{"partner", partner_id}, {"error", e.what()}});
    return {Verdict::kUnavailable, remaining()};
  }
  if (granted == 0) {
    if (p.cluster_granted >= quota) p.exhausted_until = now + kExhaustedFor;
    return {Verdict::kExhausted, remaining()};
  }
  p.allowance += granted - units;
  return {Verdict::kTaken, remaining()};
}

void ClusterQuota::give_back(const std::string& partner_id, std::int64_t units, std::int64_t day) {
  std::lock_guard lock(mu_);
  const auto it = partners_.find(partner_id);
  if (it != partners_.end() && it->second.day == day) it->second.allowance += units;
}

std::int64_t ClusterQuota::grant(const std::string& partner_id, std::int64_t day,
                                 std::int64_t quota, std::int64_t want, std::int64_t need,
                                 std::int64_t& cluster_granted) {
  pqxx::work tx(connection().db);
  tx.exec_params("SELECT pg_advisory_xact_lock($1, hashtext($2))", kPartnerLockClass, partner_id);
  cluster_granted = tx.exec_params(
                          "SELECT coalesce(sum(granted), 0)::bigint FROM quota_grants"
                          " WHERE partner_id = $1 AND day = $2",
                          partner_id, day)[0][0]
                        .as<std::int64_t>();
  const std::int64_t granted = std::min(want, quota - cluster_granted);
  if (granted < need) return 0;  // not enough left for this take: nothing is granted
  tx.exec_params(
      "INSERT INTO quota_grants (partner_id, day, owner, granted) VALUES ($1, $2, $3, $4)"
      " ON CONFLICT (partner_id, day, owner) DO UPDATE SET granted = quota_grants.granted + $4",
      partner_id, day, owner_, granted);
  if (day % kKeepDays == 0) {
    tx.exec_params("DELETE FROM quota_grants WHERE partner_id = $1 AND day < $2", partner_id,
                   day - kKeepDays);
  }
  tx.commit();
  cluster_granted += granted;
  return granted;
}

ClusterQuota::Connection& ClusterQuota::connection() {
  if (!conn_) conn_ = std::make_unique<Connection>(dsn_);
  return *conn_;
}

}  // namespace lgsp::gateway
