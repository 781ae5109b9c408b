#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "domain/citizen.hpp"

namespace lgsp::seed {

/// splitmix64: tiny, fast, and the same sequence everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n).
  std::uint32_t below(std::uint32_t n) {
    // Lemire's multiply-shift: 32 random bits times n, top half. Fits in 64 bits.
    return static_cast<std::uint32_t>(((next() >> 32) * n) >> 32);
  }

 private:
  std::uint64_t state_;
};

/// Generates a deterministic sequence of distinct synthetic citizens.
/// Not thread-safe; one generator produces one registry.
class SyntheticPopulation {
 public:
  explicit SyntheticPopulation(std::uint64_t seed);
  domain::CitizenRecord next();

 private:
  Rng rng_;
  /// Serial counters per (province, century/gender digit, year) so IDs never repeat.
  std::unordered_map<std::uint32_t, std::uint32_t> serials_;
  std::uint64_t next_legacy_ = 0;
};

}  // namespace lgsp::seed
