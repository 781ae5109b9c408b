#include "http/admin_handler.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <string>

namespace lgsp::http {
namespace {

namespace bhttp = boost::beast::http;

/// POST /admin/reload as if from `address`; counts the reloads the action saw.
class AdminActions : public ::testing::Test {
 protected:
  Response post_from(const std::string& address) {
    Request req{bhttp::verb::post, "/admin/reload", 11};
    PeerInfo peer;
    peer.address = address;
    boost::asio::io_context ioc;
    Response res;
    boost::asio::co_spawn(
        ioc, [&]() -> boost::asio::awaitable<void> { res = co_await handler_.handle(req, peer); },
        boost::asio::detached);
    ioc.run();
    return res;
  }

  obs::Metrics metrics_{"test"};
  int reloads_ = 0;
  AdminHandler handler_{metrics_, nullptr, {{"/admin/reload", [this] {
                                               ++reloads_;
                                               return std::string();
                                             }}}};
};

TEST_F(AdminActions, AreTakenFromLoopbackAddresses) {
  for (const char* address : {"127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"}) {
    EXPECT_EQ(post_from(address).result(), Status::ok) << address;
  }
  EXPECT_EQ(reloads_, 4);
}

// The admin port listens on 0.0.0.0 in Kubernetes (Prometheus, probes): another pod must
// not be able to make the gateway reload (fails on 538cf78: every caller was obeyed).
TEST_F(AdminActions, AreRefusedFromAnyOtherAddress) {
  for (const char* address : {"10.0.0.5", "192.168.1.20", "::ffff:10.1.2.3", "fd00::1", ""}) {
    const Response res = post_from(address);
    EXPECT_EQ(res.result(), Status::forbidden) << address;
    EXPECT_NE(res.body().find("admin-loopback-only"), std::string::npos) << res.body();
  }
  EXPECT_EQ(reloads_, 0);
}

}  // namespace
}  // namespace lgsp::http
