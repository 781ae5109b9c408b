#include "util/hashing.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace lgsp::util {
namespace {

std::string hex(const Sha256Digest& d) { return to_hex(d.data(), d.size()); }

TEST(Hashing, Sha256MatchesTheStandardVector) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Hashing, HmacSha256MatchesRfc4231) {
  // RFC 4231, test cases 2 and 6 (a key longer than the block size is hashed first).
  EXPECT_EQ(hex(HmacSha256("Jefe").digest("what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hex(HmacSha256(std::string(131, '\xaa'))
                    .digest("Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Hashing, OneKeyedHmacServesManyThreadsAlike) {
  const HmacSha256 hmac("audit-key");
  const std::string expected = hex(hmac.digest("001099012345"));
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (std::size_t t = 0; t < wrong.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) wrong[t] += hex(hmac.digest("001099012345")) != expected;
    });
  }
  for (auto& th : threads) th.join();
  for (const int w : wrong) EXPECT_EQ(w, 0);
  EXPECT_NE(hex(hmac.digest("001099012346")), expected);
}

}  // namespace
}  // namespace lgsp::util
