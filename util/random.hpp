#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace lgsp::util {

/// Fills `out` from OpenSSL's CSPRNG (its DRBG, seeded by the kernel), drawn 4 KiB at a time
/// into a pool per thread. Why: RAND_bytes through OpenSSL 3's provider takes locks and
/// calls getpid on every call, and every request draws several times (its id, the salts of
/// its sealed envelopes): about 4 % of the HTTP thread's time per verify
/// (bench/README.md). For identifiers, salts and nonces; draw keys with RAND_bytes
/// directly, so they never sit in a pool. Bytes handed out are wiped from the pool; a child
/// made by fork() refills before its first draw, so parent and child never share bytes.
/// Requests over 1 KiB go to RAND_bytes directly. Throws std::runtime_error if OpenSSL fails.
void random_fill(std::span<unsigned char> out);

/// `n` such bytes as a string.
std::string random_string(std::size_t n);

}  // namespace lgsp::util
