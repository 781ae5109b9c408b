#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace lgsp::gateway {

/// The reply partition of one gateway replica, leased in the cluster's PostgreSQL store
/// (table gateway_reply_partitions), so replicas need no hand-given number and two never
/// share one by mistake: construction claims the lowest partition of the topic no live
/// replica holds, a thread renews the lease every third of its length, and destruction
/// releases it for a successor. Leases are timed by the database's clock, so replicas'
/// clocks need not agree.
///
/// Each renewal also counts the replicas holding live leases (live_replicas()).
///
/// Should renewals fail for longer than the lease, or another replica take the partition
/// (this one was cut off that long), readiness() says so: the replica stops getting traffic.
/// Replies are still matched by request id, so a partition read by two replicas for a while
/// costs wasted reads, never a wrong answer.
class ReplyPartitionLease {
 public:
  /// Claims a partition of `topic` among 0..partitions-1 for `owner` (unique per process).
  /// Throws std::runtime_error when every partition is held by a live replica (naming how
  /// many there are) or the store is unreachable.
  ReplyPartitionLease(std::string dsn, std::string topic, std::int32_t partitions,
                      std::string owner, std::chrono::milliseconds lease);
  ~ReplyPartitionLease();
  ReplyPartitionLease(const ReplyPartitionLease&) = delete;
  ReplyPartitionLease& operator=(const ReplyPartitionLease&) = delete;

  std::int32_t partition() const { return partition_; }
  /// How many replicas held a live lease on the topic at the last renewal (this one
  /// included): the replicas that share the partners' rate limits.
  const std::atomic<int>& live_replicas() const { return live_replicas_; }
  /// Starts the renewing thread.
  void start();
  /// "" while the lease holds; else why this replica should get no traffic.
  std::string readiness() const;
  /// One renewal now (the thread's step; tests call it directly). False when it failed.
  bool renew();

 private:
  struct Connection;  // the libpqxx connection, kept out of this header
  Connection& connection();
  void loop();

  const std::string dsn_;
  const std::string topic_;
  const std::string owner_;
  const std::chrono::milliseconds lease_;
  std::int32_t partition_ = -1;
  std::atomic<int> live_replicas_{1};
  std::unique_ptr<Connection> conn_;  // the renewing thread's (or the constructor's)
  mutable std::mutex mu_;             // guards the fields below
  std::condition_variable wake_;
  std::string lost_;  // why the lease no longer holds ("" while it does)
  std::chrono::steady_clock::time_point renewed_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace lgsp::gateway
