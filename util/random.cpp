#include "util/random.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace lgsp::util {
namespace {

constexpr std::size_t kPoolBytes = 4096;
constexpr std::size_t kLargest = 1024;

/// Bumped in a forked child: every pool it inherited is stale there.
std::atomic<std::uint64_t> g_generation{0};

void draw(unsigned char* out, std::size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) != 1)
    throw std::runtime_error("no randomness from OpenSSL");
}

struct Pool {
  std::array<unsigned char, kPoolBytes> bytes{};
  std::size_t used = kPoolBytes;  // empty
  std::uint64_t generation = 0;

  Pool() {
    static const bool registered = [] {
      return pthread_atfork(nullptr, nullptr,
                            [] { g_generation.fetch_add(1, std::memory_order_relaxed); }) == 0;
    }();
    if (!registered) throw std::runtime_error("pthread_atfork failed");
  }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

thread_local Pool t_pool;

}  // namespace

void random_fill(std::span<unsigned char> out) {
  if (out.size() > kLargest) return draw(out.data(), out.size());
  Pool& pool = t_pool;
  const auto generation = g_generation.load(std::memory_order_relaxed);
  if (pool.generation != generation || pool.used + out.size() > pool.bytes.size()) {
    draw(pool.bytes.data(), pool.bytes.size());
    pool.used = 0;
    pool.generation = generation;
  }
  unsigned char* from = pool.bytes.data() + pool.used;
  std::memcpy(out.data(), from, out.size());
  OPENSSL_cleanse(from, out.size());
  pool.used += out.size();
}

std::string random_string(std::size_t n) {
  std::string out(n, '\0');
  random_fill({reinterpret_cast<unsigned char*>(out.data()), n});
  return out;
}

}  // namespace lgsp::util
