#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "bus/consumer.hpp"
#include "changes/store.hpp"
#include "config/config.hpp"
#include "observability/metrics.hpp"
#include "util/sealing.hpp"

namespace lgsp::changes {

/// The gateway's side of the change feed: takes the changes topic (partition 0, from the
/// store's resume offset, no consumer group: every replica keeps its own copy) into the
/// store, keeping only events sealed by the registry they name, of a command that registry
/// has, about a well-formed citizen ID; deletes what is older than the retention; and wakes
/// the long-polls waiting for a change.
///
/// Lifecycle: start() launches its thread; stop() (and the destructor) ends it. Thread-safe.
class ChangeFeed {
 public:
  ChangeFeed(const config::ChangesConfig& cfg, const std::string& topic,
             const bus::Properties& consumer, std::shared_ptr<const util::Sealer> sealer,
             obs::Metrics& metrics);
  ~ChangeFeed();
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  void start();
  void stop();

  ChangeStore& store() { return store_; }
  /// Where the API's store reads run (never on the HTTP threads).
  boost::asio::thread_pool& pool() { return pool_; }
  std::chrono::seconds max_wait() const { return max_wait_; }

  /// A long-poll's timer, cancelled when a change is stored (or by its own expiry).
  void wait_on(const std::shared_ptr<boost::asio::steady_timer>& timer);
  void done_waiting(const std::shared_ptr<boost::asio::steady_timer>& timer);

  /// True once stop() began: long-polls answer what they have at once.
  bool stopping() const { return stopping_.load(); }
  /// One change delivered to a partner, `seconds` after its registry applied it.
  void delivered(double seconds);

 private:
  void run(const std::stop_token& stop);
  /// The change a message carries, or nullopt (counted by verdict) when it must be ignored.
  std::optional<Change> verify(const rd_kafka_message_t* msg);
  void count(std::string_view verdict);
  void wake_all();

  const std::string topic_;
  const std::chrono::hours retention_;
  const std::chrono::seconds max_wait_;
  ChangeStore store_;
  bus::Consumer consumer_;
  std::shared_ptr<const util::Sealer> sealer_;
  boost::asio::thread_pool pool_{1};
  prometheus::Family<prometheus::Counter>& ingested_;
  prometheus::Gauge& high_;
  prometheus::Histogram& delay_;
  prometheus::Counter& deliveries_;
  std::mutex waiters_mu_;
  std::set<std::shared_ptr<boost::asio::steady_timer>> waiters_;
  std::atomic<bool> stopping_{false};
  std::jthread thread_;
};

}  // namespace lgsp::changes
