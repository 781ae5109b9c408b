#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lgsp::gateway {

/// Request id → {completion, deadline} for exchanges awaiting their reply (Redpanda's
/// rpc/transport correlation map). Whoever takes an entry out completes it, so a reply
/// and a deadline can never both complete one exchange. Ids finished recently are
/// remembered (bounded) to tell a late reply (its exchange timed out) from a duplicate
/// (its exchange was already answered: at-least-once redelivery).
///
/// Not thread-safe: the owner serialises access (BusClient holds a mutex). Pure: time is
/// passed in, so tests drive it without sleeping.
template <class Completion>
class CorrelationTable {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Unmatched { kLate, kDuplicate, kUnknown };

  explicit CorrelationTable(std::size_t capacity, std::size_t remember = 65536)
      : capacity_(capacity), remember_(remember) {}

  /// False when full (shed load) or the id is already pending; `completion` is moved from
  /// only on success, so the caller can still complete it with an error.
  bool add(const std::string& id, Completion&& completion, Clock::time_point deadline) {
    if (entries_.size() >= capacity_ || entries_.contains(id)) return false;
    auto pos = deadlines_.emplace(deadline, id);
    entries_.emplace(id, Entry{std::move(completion), pos});
    return true;
  }

  /// The reply path: removes and returns the completion, or nullopt when the id is not
  /// pending (then see classify()).
  std::optional<Completion> take(const std::string& id) {
    auto it = entries_.find(id);
    if (it == entries_.end()) return std::nullopt;
    Completion c = std::move(it->second.completion);
    deadlines_.erase(it->second.deadline);
    entries_.erase(it);
    remember(id, Finished::kAnswered);
    return c;
  }

  /// The pending completion of `id`, or nullptr (to check a reply before taking it).
  const Completion* find(const std::string& id) const {
    auto it = entries_.find(id);
    return it == entries_.end() ? nullptr : &it->second.completion;
  }

  /// Why a reply matched nothing.
  Unmatched classify(const std::string& id) const {
    auto it = finished_.find(id);
    if (it == finished_.end()) return Unmatched::kUnknown;
    return it->second == Finished::kTimedOut ? Unmatched::kLate : Unmatched::kDuplicate;
  }

  /// Removes every exchange whose deadline is at or before `now`, for the caller to
  /// complete with a timeout.
  std::vector<std::pair<std::string, Completion>> take_expired(Clock::time_point now) {
    std::vector<std::pair<std::string, Completion>> out;
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      const std::string id = deadlines_.begin()->second;
      auto it = entries_.find(id);
      out.emplace_back(id, std::move(it->second.completion));
      entries_.erase(it);
      deadlines_.erase(deadlines_.begin());
      remember(id, Finished::kTimedOut);
    }
    return out;
  }

  /// Removes everything (shutdown), for the caller to complete with an error.
  std::vector<std::pair<std::string, Completion>> take_all() {
    std::vector<std::pair<std::string, Completion>> out;
    for (auto& [id, e] : entries_) out.emplace_back(id, std::move(e.completion));
    entries_.clear();
    deadlines_.clear();
    return out;
  }

  std::size_t size() const { return entries_.size(); }
  std::optional<Clock::time_point> next_deadline() const {
    if (deadlines_.empty()) return std::nullopt;
    return deadlines_.begin()->first;
  }

 private:
  enum class Finished { kAnswered, kTimedOut };
  struct Entry {
    Completion completion;
    typename std::multimap<Clock::time_point, std::string>::iterator deadline;
  };

  void remember(const std::string& id, Finished how) {
    if (remember_ == 0) return;
    if (finished_.insert_or_assign(id, how).second) order_.push_back(id);
    while (order_.size() > remember_) {
      finished_.erase(order_.front());
      order_.pop_front();
    }
  }

  std::size_t capacity_;
  std::size_t remember_;
  std::unordered_map<std::string, Entry> entries_;
  std::multimap<Clock::time_point, std::string> deadlines_;
  std::unordered_map<std::string, Finished> finished_;
  std::deque<std::string> order_;
};

}  // namespace lgsp::gateway
