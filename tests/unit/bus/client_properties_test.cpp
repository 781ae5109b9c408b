#include "bus/client_properties.hpp"

#include <gtest/gtest.h>

namespace lgsp::bus {
namespace {

/// The value librdkafka ends up with: the last entry for the key wins.
std::string last(const Properties& p, const std::string& key) {
  std::string v;
  for (const auto& [k, value] : p) {
    if (k == key) v = value;
  }
  return v;
}

TEST(ClientProperties, FetchWaitIsRaisedOnlyWhereSetLower) {
  const Properties embedded{{"fetch.wait.max.ms", "1"}, {"a", "b"}};
  EXPECT_EQ(last(with_fetch_wait_at_least(embedded, 10), "fetch.wait.max.ms"), "10");
  const Properties slower{{"fetch.wait.max.ms", "100"}};
  EXPECT_EQ(last(with_fetch_wait_at_least(slower, 10), "fetch.wait.max.ms"), "100");
  // Unset: librdkafka's default (500 ms) stays.
  const Properties unset{{"a", "b"}};
  EXPECT_EQ(last(with_fetch_wait_at_least(unset, 10), "fetch.wait.max.ms"), "");
  // The later of two settings is the one that counts.
  const Properties twice{{"fetch.wait.max.ms", "100"}, {"fetch.wait.max.ms", "2"}};
  EXPECT_EQ(last(with_fetch_wait_at_least(twice, 10), "fetch.wait.max.ms"), "10");
}

}  // namespace
}  // namespace lgsp::bus
