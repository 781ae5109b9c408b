#include "util/http_url.hpp"

#include <gtest/gtest.h>

namespace lgsp::util {
namespace {

HttpUrl ok(std::string_view text) {
  auto parsed = parse_http_url(text, "the gateway URL");
  if (const auto* e = std::get_if<std::string>(&parsed)) {
    ADD_FAILURE() << text << ": " << *e;
    return {};
  }
  return std::get<HttpUrl>(parsed);
}

std::string error(std::string_view text) {
  auto parsed = parse_http_url(text, "the gateway URL", "pass the API key another way");
  const auto* e = std::get_if<std::string>(&parsed);
  return e != nullptr ? *e : "(parsed)";
}

TEST(HttpUrl, SchemeSetsTlsAndTheDefaultPort) {
  const auto plain = ok("http://127.0.0.1:8080");
  EXPECT_FALSE(plain.tls);
  EXPECT_EQ(plain.host, "127.0.0.1");
  EXPECT_EQ(plain.port, 8080);
  EXPECT_EQ(plain.base_path, "");
  EXPECT_EQ(plain.host_header(), "127.0.0.1:8080");

  const auto secure = ok("HTTPS://lgsp.gov.example/");
  EXPECT_TRUE(secure.tls);
  EXPECT_EQ(secure.host, "lgsp.gov.example");
  EXPECT_EQ(secure.port, 443);
  EXPECT_EQ(secure.base_path, "");
  EXPECT_EQ(secure.host_header(), "lgsp.gov.example");

  EXPECT_EQ(ok("http://gw").port, 80);
}

TEST(HttpUrl, KeepsABasePathWithoutTrailingSlash) {
  const auto u = ok("https://gw.example:8443/lgsp/api//");
  EXPECT_EQ(u.port, 8443);
  EXPECT_EQ(u.base_path, "/lgsp/api");
  EXPECT_EQ(u.host_header(), "gw.example:8443");
}

TEST(HttpUrl, Ipv6LiteralsInBrackets) {
  const auto u = ok("http://[::1]:9000/x");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 9000);
  EXPECT_EQ(u.host_header(), "[::1]:9000");
  EXPECT_EQ(ok("https://[2001:db8::2]").host_header(), "[2001:db8::2]");
}

TEST(HttpUrl, RejectsWhatItCannotUseAndSaysWhy) {
  EXPECT_EQ(error("127.0.0.1:8080"), "the gateway URL must start with http:// or https://");
  EXPECT_EQ(error("ftp://x"), "the gateway URL must start with http:// or https://");
  EXPECT_EQ(error("http://"), "the gateway URL has no host");
  EXPECT_EQ(error("http://:80"), "the gateway URL has no host");
  EXPECT_EQ(error("http://gw:"), "the gateway URL has an empty port");
  EXPECT_EQ(error("http://gw:0"), "the gateway URL's port must be a number from 1 to 65535");
  EXPECT_EQ(error("http://gw:65536"), "the gateway URL's port must be a number from 1 to 65535");
  EXPECT_EQ(error("http://gw:80x"), "the gateway URL's port must be a number from 1 to 65535");
  EXPECT_EQ(error("http://gw/x?y=1"), "the gateway URL must not have a query or fragment");
  EXPECT_EQ(error("http://gw?y=1"), "the gateway URL must not have a query or fragment");
  EXPECT_EQ(error("http://[::1"), "the gateway URL has an unclosed [");
  EXPECT_EQ(error("https://user:secret@gw"),
            "the gateway URL must not hold credentials; pass the API key another way");
}

TEST(HttpUrl, LoopbackIsOnlyTheMachineItself) {
  EXPECT_TRUE(ok("http://127.0.0.1:8080").loopback());
  EXPECT_TRUE(ok("http://[::1]:8080").loopback());
  EXPECT_TRUE(ok("http://LocalHost").loopback());
  EXPECT_FALSE(ok("http://localhost.example.gov.vn").loopback());
  EXPECT_FALSE(ok("http://10.0.0.1").loopback());
}

TEST(QueryEscape, EncodesAllButUnreservedCharacters) {
  EXPECT_EQ(query_escape("population"), "population");
  EXPECT_EQ(query_escape("a-b_c.d~e"), "a-b_c.d~e");
  EXPECT_EQ(query_escape("kiểm tra & đối chiếu=1/2"),
            "ki%E1%BB%83m%20tra%20%26%20%C4%91%E1%BB%91i%20chi%E1%BA%BFu%3D1%2F2");
  EXPECT_EQ(query_escape(""), "");
}

}  // namespace
}  // namespace lgsp::util
