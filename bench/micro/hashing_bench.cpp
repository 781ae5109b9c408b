// What one request's hashing costs: the subject key (SHA-256), the API key check (SHA-256)
// and the audit subject hash (HMAC-SHA256), through OpenSSL 3's one-shot calls (which look
// the algorithm up on every call) and through util/hashing (fetched or keyed once).
//   build/bench/lgsp_micro_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <string>

#include "util/hashing.hpp"

namespace {

const std::string kCitizenId = "001099012345";
const std::string kKey(64, 'k');

void OneShotSha256(benchmark::State& state) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  for (auto _ : state) {
    SHA256(reinterpret_cast<const unsigned char*>(kCitizenId.data()), kCitizenId.size(), digest);
    benchmark::DoNotOptimize(digest);
  }
}
BENCHMARK(OneShotSha256)->ThreadRange(1, 2);

void DomainSha256(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(lgsp::util::sha256(kCitizenId));
}
BENCHMARK(DomainSha256)->ThreadRange(1, 2);

void OneShotHmacSha256(benchmark::State& state) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  for (auto _ : state) {
    HMAC(EVP_sha256(), kKey.data(), static_cast<int>(kKey.size()),
         reinterpret_cast<const unsigned char*>(kCitizenId.data()), kCitizenId.size(), digest,
         &len);
    benchmark::DoNotOptimize(digest);
  }
}
BENCHMARK(OneShotHmacSha256)->ThreadRange(1, 2);

void DomainHmacSha256(benchmark::State& state) {
  static const lgsp::util::HmacSha256 hmac(kKey);
  for (auto _ : state) benchmark::DoNotOptimize(hmac.digest(kCitizenId));
}
BENCHMARK(DomainHmacSha256)->ThreadRange(1, 2);

}  // namespace

BENCHMARK_MAIN();
