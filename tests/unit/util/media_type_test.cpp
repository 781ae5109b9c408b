// The one media-type parser: the gateway's request bodies, bulk uploads and the upstream
// backend's answers all read Content-Type through it.
#include "util/media_type.hpp"

#include <gtest/gtest.h>

#include <string>

namespace lgsp::util {
namespace {

TEST(MediaType, ParametersDroppedTrimmedLowerCase) {
  EXPECT_EQ(media_type("application/json"), "application/json");
  EXPECT_EQ(media_type("Application/JSON"), "application/json");
  EXPECT_EQ(media_type("application/json; charset=utf-8"), "application/json");
  EXPECT_EQ(media_type(" application/json ;charset=UTF-8"), "application/json");
  EXPECT_EQ(media_type("\ttext/CSV\t"), "text/csv");
  EXPECT_EQ(media_type("gzip"), "gzip") << "Content-Encoding values too";
}

TEST(MediaType, AnythingElseIsNoMediaType) {
  EXPECT_EQ(media_type(""), "");
  EXPECT_EQ(media_type("application/ json"), "") << "no space inside";
  EXPECT_EQ(media_type("text/html<script>"), "") << "nothing a peer sent reaches a message";
  EXPECT_EQ(media_type("application/json\r\nX-Evil: 1"), "");
  EXPECT_EQ(media_type(std::string(128, 'a')), "") << "over 127 characters";
  EXPECT_EQ(media_type(std::string(127, 'a')), std::string(127, 'a'));
}

TEST(MediaType, JsonExactlyOrStructuredWhenAsked) {
  EXPECT_TRUE(is_json(media_type("application/json; charset=utf-8")));
  EXPECT_FALSE(is_json("application/jsonx"));
  EXPECT_FALSE(is_json("text/json"));
  EXPECT_FALSE(is_json("application/x-www-form-urlencoded"));
  EXPECT_FALSE(is_json("application/problem+json")) << "request bodies: plain JSON only";
  EXPECT_TRUE(is_json("application/problem+json", /*structured=*/true));
  EXPECT_FALSE(is_json("text/problem+json", /*structured=*/true));
  EXPECT_FALSE(is_json("", /*structured=*/true));
}

}  // namespace
}  // namespace lgsp::util
