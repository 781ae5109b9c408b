#include "util/random.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <set>
#include <string>
#include <thread>

namespace lgsp::util {
namespace {

TEST(RandomPool, DrawsNeverRepeatAndAreNotWipedBytes) {
  // 10,000 draws of 16 bytes cross about forty refills of a thread's pool.
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    const std::string r = random_string(16);
    ASSERT_EQ(r.size(), 16U);
    ASSERT_NE(r, std::string(16, '\0')) << "handed out bytes the pool had already wiped";
    ASSERT_TRUE(seen.insert(r).second) << "draw " << i << " repeated an earlier one";
  }
}

TEST(RandomPool, ThreadsAndLargeRequestsGetBytesOfTheirOwn) {
  std::string a;
  std::string b;
  std::thread ta([&a] { a = random_string(64); });
  std::thread tb([&b] { b = random_string(64); });
  ta.join();
  tb.join();
  EXPECT_NE(a, b);
  const std::string large = random_string(5000);  // past the pool: straight from OpenSSL
  EXPECT_EQ(large.size(), 5000U);
  EXPECT_NE(large.substr(0, 2500), large.substr(2500));
}

TEST(RandomPool, AForkedChildNeverDrawsWhatItsParentDraws) {
  (void)random_string(16);  // the pool is full when the process forks
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::array<unsigned char, 16> bytes{};
    random_fill(bytes);
    const auto n = ::write(fds[1], bytes.data(), bytes.size());
    ::_exit(n == static_cast<ssize_t>(bytes.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  std::array<unsigned char, 16> parent{};
  random_fill(parent);
  std::array<unsigned char, 16> from_child{};
  ASSERT_EQ(::read(fds[0], from_child.data(), from_child.size()),
            static_cast<ssize_t>(from_child.size()));
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(parent, from_child) << "the child reused its parent's pool";
}

}  // namespace
}  // namespace lgsp::util
