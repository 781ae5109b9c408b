#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.hpp"
#include "consents/rules.hpp"
#include "consents/store.hpp"
#include "observability/metrics.hpp"

namespace lgsp::consents {

/// The gateway's consents: which purposes need one, and the store behind the citizen app's
/// grants and revocations and the check of every request that presents one. Store calls
/// block, so they run on a thread of the book's own (one store connection, one call at a
/// time), never on an io_context thread; a coroutine resumes on its own executor with the
/// result or Unavailable. Bounded: beyond kMaxQueued waiting calls, or a call that waited
/// kMaxWait, the answer is Unavailable at once (no data moves without a checked consent).
/// Thread-safe.
class ConsentBook {
 public:
  ConsentBook(const config::ConsentsConfig& cfg, obs::Metrics& metrics);
  /// For tests: a store of the caller's.
  ConsentBook(const config::ConsentsConfig& cfg, std::unique_ptr<ConsentStore> store,
              obs::Metrics& metrics);
  ~ConsentBook();
  ConsentBook(const ConsentBook&) = delete;
  ConsentBook& operator=(const ConsentBook&) = delete;

  static constexpr std::size_t kMaxQueued = 64;
  static constexpr std::chrono::milliseconds kMaxWait{2000};
  /// A citizen's consents listed at most (newest first).
  static constexpr std::size_t kMaxListed = 200;

  /// Whether a partner stating `purpose` must present the citizen's consent.
  bool needs(std::string_view purpose) const { return purposes_.contains(purpose); }
  std::int64_t max_days() const { return max_days_; }
  const std::set<std::string, std::less<>>& purposes() const { return purposes_; }

  struct Unavailable {
    std::string why;
  };
  template <class T>
  using Result = std::variant<T, Unavailable>;

  boost::asio::awaitable<Result<std::optional<Consent>>> find(std::string id);
  boost::asio::awaitable<Result<bool>> add(Consent c);
  boost::asio::awaitable<Result<std::optional<Consent>>> revoke(std::string id,
                                                                std::string subject_hash,
                                                                std::int64_t at_ms);
  boost::asio::awaitable<Result<std::vector<Consent>>> list(std::string subject_hash);

  /// lgsp_consent_checks_total{partner, outcome}: a request's consent checked (outcome a
  /// Standing label, "missing" when none was presented for a purpose that needs one,
  /// "unavailable").
  void checked(const std::string& partner, std::string_view outcome);
  /// lgsp_consent_changes_total{action}: "granted", "revoked".
  void changed(std::string_view action);

 private:
  template <class T>
  boost::asio::awaitable<Result<T>> call(std::function<T(ConsentStore&)> work);

  std::set<std::string, std::less<>> purposes_;
  std::int64_t max_days_;
  std::unique_ptr<ConsentStore> store_;
  std::mutex mu_;  // one call on the store at a time
  std::atomic<std::size_t> queued_{0};
  prometheus::Family<prometheus::Counter>& checks_;
  prometheus::Family<prometheus::Counter>& changes_;
  boost::asio::thread_pool pool_{1};
};

}  // namespace lgsp::consents
