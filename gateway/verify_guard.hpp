#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bus/envelope.hpp"

namespace lgsp::gateway {

/// Stops a partner from using verify as an oracle. A verify answers per claim whether it
/// agrees, so a partner holding only a citizen ID could try birth dates until one matches
/// (at most 366 tries: the ID holds the year). The guard counts, per partner, registry and
/// subject, the verifications that did not match; once `limit` of them fall within the
/// window, that partner's further verifications of that subject are refused (429) until they
/// age out. A match does not reset the count (a guesser could interleave the claims it
/// knows). Interactive and bulk verifications count alike.
///
/// Only distinct claims count: repeating a claim that already failed tells nothing new (an
/// honest partner retrying, or a bulk file with duplicate lines), and when there is no such
/// subject every claim fails alike, so that counts once. Each verification is charged
/// before it is asked (attempt()) and refunded when its answer told nothing (a match, an
/// error, a record asked again): so requests sent at once, or the records of one bulk
/// chunk, cannot all pass before the first failure is counted.
///
/// Memory is bounded: the counts live in two generations of `window` each (a failure ages
/// out after one to two windows); when the current generation holds `max_entries` subjects
/// it is retired early, so a flood of distinct subjects can shorten the memory but not grow
/// it. The counts are per gateway process (see docs/security.md). Thread-safe.
class VerifyGuard {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::int64_t limit = 5;  // failed verifications per subject and window; 0 = off
    std::chrono::seconds window{3600};
    std::size_t max_entries = 1'000'000;
  };
  /// Names one partner's verifications of one subject of one registry.
  using Key = std::uint64_t;
  /// What one verification claims (claims_of); 0 stands for "no such subject".
  using Claims = std::uint64_t;
  /// A verification that was charged: settle() it once its answer is known.
  struct Charge {
    Key key = 0;
    Claims claims = 0;
  };
  /// What an answer told the partner.
  enum class Told {
    kNothing,        // it matched, or there was no answer: refunded
    kMismatch,       // a claim did not agree: counts as one failure
    kNoSuchSubject,  // no such subject: counts once per subject, whatever was claimed
  };

  explicit VerifyGuard(Options options);

  bool enabled() const { return options_.limit > 0; }
  std::int64_t limit() const { return options_.limit; }
  Key key(std::string_view partner, std::string_view registry, std::string_view subject) const;
  /// A digest of a request's claims, the same whatever order they came in (never 0).
  static Claims claims_of(const bus::v1::Request& request);
  /// Admits one verification of `key` claiming `claims`. Zero wait: it may go ahead, and
  /// `charged` says whether it was counted (claims that already failed are not counted
  /// again: repeating them tells nothing new). Otherwise how long until it may (at least a
  /// second; nothing charged).
  struct Admission {
    std::chrono::seconds wait{0};
    bool charged = false;
  };
  Admission attempt(Key key, Claims claims, Clock::time_point now);
  /// Settles a charged verification by what its answer told.
  void settle(const Charge& charge, Told told);

 private:
  /// The distinct claims that failed (or are being asked) for one key.
  using Failures = std::vector<Claims>;
  void rotate(Clock::time_point now);  // caller holds mu_

  Options options_;
  std::uint64_t salt_;  // per process, so nobody can aim a key at another partner's
  std::mutex mu_;
  std::unordered_map<Key, Failures> current_;   // guarded by mu_
  std::unordered_map<Key, Failures> previous_;  // guarded by mu_
  Clock::time_point current_start_;             // guarded by mu_
};

/// One verification's charge, settled when it goes out of scope: as told(), or refunded.
class VerifyCharge {
 public:
  VerifyCharge(VerifyGuard& guard, VerifyGuard::Charge charge) : guard_(guard), charge_(charge) {}
  ~VerifyCharge() { guard_.settle(charge_, told_); }
  VerifyCharge(const VerifyCharge&) = delete;
  VerifyCharge& operator=(const VerifyCharge&) = delete;
  void told(VerifyGuard::Told what) { told_ = what; }

 private:
  VerifyGuard& guard_;
  VerifyGuard::Charge charge_;
  VerifyGuard::Told told_ = VerifyGuard::Told::kNothing;
};

}  // namespace lgsp::gateway
