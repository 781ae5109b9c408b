#include "gateway/verify_guard.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <functional>
#include <stdexcept>
#include <string>

namespace lgsp::gateway {

VerifyGuard::VerifyGuard(Options options) : options_(options), current_start_(Clock::now()) {
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&salt_), sizeof salt_) != 1) {
    throw std::runtime_error("no randomness from OpenSSL");
  }
}

VerifyGuard::Key VerifyGuard::key(std::string_view partner, std::string_view registry,
                                  std::string_view subject) const {
  std::string k(reinterpret_cast<const char*>(&salt_), sizeof salt_);
  k.append(partner).push_back('\0');
  k.append(registry).push_back('\0');
  k.append(subject);
  return std::hash<std::string>{}(k);
}

void VerifyGuard::rotate(Clock::time_point now) {
  if (now - current_start_ < options_.window && current_.size() < options_.max_entries) return;
  if (now - current_start_ >= 2 * options_.window) {
    previous_.clear();  // both generations are older than a window
  } else {
    previous_ = std::move(current_);
  }
  current_.clear();
  current_start_ = now;
}

VerifyGuard::Claims VerifyGuard::claims_of(const bus::v1::Request& request) {
  std::vector<std::pair<std::string, std::string>> claims(request.claims().begin(),
                                                          request.claims().end());
  std::sort(claims.begin(), claims.end());
  std::string text;
  for (const auto& [name, value] : claims) {
    text.append(name).push_back('\0');
    text.append(value).push_back('\0');
  }
  const Claims c = std::hash<std::string>{}(text);
  return c == 0 ? 1 : c;
}

VerifyGuard::Admission VerifyGuard::attempt(Key key, Claims claims, Clock::time_point now) {
  if (!enabled()) return {};
  std::lock_guard lock(mu_);
  rotate(now);
  static const Failures kNone;
  const auto previous_it = previous_.find(key);
  const Failures& older = previous_it == previous_.end() ? kNone : previous_it->second;
  Failures& recent = current_[key];
  const auto holds = [](const Failures& f, Claims c) {
    return std::find(f.begin(), f.end(), c) != f.end();
  };
  if (holds(recent, claims) || holds(older, claims)) {  // nothing new to learn
    if (recent.empty()) current_.erase(key);
    return {};
  }
  std::int64_t distinct = static_cast<std::int64_t>(recent.size());
  for (const Claims c : older) distinct += holds(recent, c) ? 0 : 1;
  if (distinct < options_.limit) {
    recent.push_back(claims);
    return {std::chrono::seconds{0}, true};
  }
  // The previous generation goes at the next rotation; the current one a window later.
  auto until = current_start_ + options_.window;
  if (static_cast<std::int64_t>(recent.size()) >= options_.limit) until += options_.window;
  if (recent.empty()) current_.erase(key);
  return {std::max(std::chrono::seconds{1}, std::chrono::ceil<std::chrono::seconds>(until - now)),
          false};
}

void VerifyGuard::settle(const Charge& charge, Told told) {
  if (!enabled() || told == Told::kMismatch) return;
  std::lock_guard lock(mu_);
  // Charged in the current generation unless it rotated since.
  for (auto* generation : {&current_, &previous_}) {
    const auto it = generation->find(charge.key);
    if (it == generation->end()) continue;
    Failures& f = it->second;
    const auto at = std::find(f.begin(), f.end(), charge.claims);
    if (at == f.end()) continue;
    const bool known_absent = std::find(f.begin(), f.end(), Claims{0}) != f.end();
    if (told == Told::kNoSuchSubject && !known_absent) {
      *at = 0;  // every claim about a subject that does not exist fails alike: one failure
    } else {
      f.erase(at);
    }
    if (f.empty()) generation->erase(it);
    return;
  }
}

}  // namespace lgsp::gateway
