#include "gateway/partition_lease.hpp"

#include <algorithm>
#include <pqxx/pqxx>
#include <stdexcept>
#include <utility>

#include "observability/log.hpp"
#include "observability/thread_name.hpp"

namespace lgsp::gateway {
namespace {

// Serialises table creation across replicas starting together. "lgsprepl" in ASCII.
constexpr const char* kSchemaLock = "SELECT pg_advisory_xact_lock(7811339005490196588)";
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS gateway_reply_partitions ("
    " topic TEXT NOT NULL, partition INTEGER NOT NULL, owner TEXT NOT NULL,"
    " lease_until_ms BIGINT NOT NULL, PRIMARY KEY (topic, partition))";
// The database's clock in unix ms: the one clock every replica agrees on.
const std::string kDbNowMs = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// The replicas holding a live lease on `topic` (at least this one).
int live_leases(pqxx::work& tx, const std::string& topic) {
  const auto n = tx.exec_params(
                       "SELECT count(*) FROM gateway_reply_partitions WHERE topic = $1"
                       " AND lease_until_ms >= " +
                           kDbNowMs,
                       topic)[0][0]
                     .as<int>();
  return std::max(1, n);
}

}  // namespace

struct ReplyPartitionLease::Connection {
  explicit Connection(const std::string& dsn) : db(dsn) {}
  pqxx::connection db;
};

ReplyPartitionLease::ReplyPartitionLease(std::string dsn, std::string topic,
                                         std::int32_t partitions, std::string owner,
                                         std::chrono::milliseconds lease)
    : dsn_(std::move(dsn)), topic_(std::move(topic)), owner_(std::move(owner)), lease_(lease) {
  try {
    pqxx::work tx(connection().db);
    tx.exec(kSchemaLock);
    tx.exec(kSchema);
    tx.exec_params(
        "INSERT INTO gateway_reply_partitions (topic, partition, owner, lease_until_ms)"
        " SELECT $1, p, '', 0 FROM generate_series(0, $2 - 1) AS p ON CONFLICT DO NOTHING",
        topic_, partitions);
    // The lowest partition whose lease ran out (or was released); SKIP LOCKED: two replicas
    // claiming at once take two.
    const auto got = tx.exec_params(
        "UPDATE gateway_reply_partitions SET owner = $3, lease_until_ms = " + kDbNowMs +
            " + $4 WHERE topic = $1 AND partition = (SELECT partition FROM"
            " gateway_reply_partitions WHERE topic = $1 AND partition < $2 AND lease_until_ms < " +
            kDbNowMs + " ORDER BY partition LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING partition",
        topic_, partitions, owner_, static_cast<std::int64_t>(lease_.count()));
    if (!got.empty()) live_replicas_ = live_leases(tx, topic_);
    tx.commit();
    if (got.empty()) {
      throw std::runtime_error(
          "every one of the " + std::to_string(partitions) + " partitions of " + topic_ +
          " is held by a live gateway replica: give the topic at least as many partitions as "
          "replicas (kafka.reply_partitions)");
    }
    partition_ = got[0][0].as<std::int32_t>();
  } catch (const pqxx::failure& e) {
    throw std::runtime_error(std::string("cluster store: cannot claim a reply partition: ") +
                             e.what());
  }
  renewed_ = std::chrono::steady_clock::now();
  obs::info("reply_partition_claimed",
            {{"topic", topic_}, {"partition", partition_}, {"instance", owner_}});
}

ReplyPartitionLease::~ReplyPartitionLease() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Released, so a successor takes it now rather than a lease later; best effort (a dead
  // process releases nothing, and its lease simply runs out).
  try {
    pqxx::work tx(connection().db);
    tx.exec_params(
        "UPDATE gateway_reply_partitions SET lease_until_ms = 0 WHERE topic = $1"
        " AND partition = $2 AND owner = $3",
        topic_, partition_, owner_);
    tx.commit();
  } catch (const std::exception& e) {
    obs::warn("reply_partition_not_released", {{"partition", partition_}, {"error", e.what()}});
  }
}

void ReplyPartitionLease::start() {
  thread_ = std::thread([this] {
    obs::name_this_thread("lgsp-lease");
    loop();
  });
}

void ReplyPartitionLease::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, lease_ / 3, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    renew();
    lock.lock();
  }
}

bool ReplyPartitionLease::renew() {
  std::string lost;
  try {
    pqxx::work tx(connection().db);
    const auto r =
        tx.exec_params("UPDATE gateway_reply_partitions SET lease_until_ms = " + kDbNowMs +
                           " + $4 WHERE topic = $1 AND partition = $2 AND owner = $3",
                       topic_, partition_, owner_, static_cast<std::int64_t>(lease_.count()));
    if (r.affected_rows() == 1) live_replicas_ = live_leases(tx, topic_);
    tx.commit();
    if (r.affected_rows() == 1) {
      std::lock_guard lock(mu_);
      if (!lost_.empty()) obs::info("reply_partition_renewed", {{"partition", partition_}});
      lost_.clear();
      renewed_ = std::chrono::steady_clock::now();
      return true;
    }
    lost = "reply partition " + std::to_string(partition_) +
           " was taken by another gateway replica (this one could not renew its lease in "
           "time): restart this replica";
  } catch (const std::exception& e) {
    conn_.reset();
    std::lock_guard lock(mu_);
    if (std::chrono::steady_clock::now() - renewed_ < lease_) {
      obs::warn("reply_partition_renewal_failed", {{"partition", partition_}, {"error", e.what()}});
      return false;
    }
    lost = "the lease on reply partition " + std::to_string(partition_) +
           " could not be renewed for longer than it lasts (cluster store unreachable?)";
  }
  std::lock_guard lock(mu_);
  if (lost_ != lost)
    obs::error("reply_partition_lost", {{"partition", partition_}, {"reason", lost}});
  lost_ = std::move(lost);
  return false;
}

std::string ReplyPartitionLease::readiness() const {
  std::lock_guard lock(mu_);
  return lost_;
}

ReplyPartitionLease::Connection& ReplyPartitionLease::connection() {
  if (!conn_) conn_ = std::make_unique<Connection>(dsn_);
  return *conn_;
}

}  // namespace lgsp::gateway
