#include "bus/embedded_cluster.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>

namespace lgsp::bus {
namespace {

int port_of(const std::string& bootstraps) {
  const auto colon = bootstraps.rfind(':');
  int port = 0;
  std::from_chars(bootstraps.data() + colon + 1, bootstraps.data() + bootstraps.size(), port);
  return port;
}

/// TCP_NODELAY of the broker's side of an accepted connection on `port` (this process's
/// socket whose local port is `port` and which is not the listener), or -1 if none is found.
int accepted_side_nodelay(int port) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    int fd = -1;
    const std::string name = entry.path().filename().string();
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc{}) continue;
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening != 0)
      continue;
    sockaddr_in addr{};
    socklen_t addr_len = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0 ||
        addr.sin_family != AF_INET || ntohs(addr.sin_port) != port)
      continue;
    int nodelay = 0;
    len = sizeof nodelay;
    if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) == 0) return nodelay;
  }
  return -1;
}

// Without TCP_NODELAY on the broker side, a producer with several requests in flight waited
// for the client's delayed ACK (40 ms) on every other response: audit acknowledgements took
// ~42 ms and a gateway at 64 connections fell from ~4,000 to ~1,450 verifications/s.
TEST(EmbeddedCluster, BrokerConnectionsSendWithoutNagleDelay) {
  EmbeddedCluster cluster(1);
  const int port = port_of(cluster.bootstraps());
  const int client = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(client, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  int nodelay = -1;
  for (int i = 0; i < 200 && nodelay < 0; ++i) {  // the broker thread accepts asynchronously
    nodelay = accepted_side_nodelay(port);
    if (nodelay < 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  close(client);
  ASSERT_NE(nodelay, -1) << "the broker never accepted the connection";
  EXPECT_NE(nodelay, 0) << "the broker's side of the connection uses Nagle's algorithm";
}

}  // namespace
}  // namespace lgsp::bus
