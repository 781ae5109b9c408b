#include "config/config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace lgsp::config {
namespace {

std::vector<std::string> errors_of(const std::string& yaml) {
  try {
    parse_config(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    return e.errors();
  }
  return {};
}

bool any_contains(const std::vector<std::string>& errors, const std::string& needle) {
  for (const auto& e : errors) {
    if (e.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(Config, DefaultsApplyForAnEmptyMapping) {
  const Config c = parse_config("logging: {level: info}\n", "t.yaml");
  EXPECT_EQ(c.kafka.bootstrap, "embedded");
  EXPECT_EQ(c.gateway.listen.port, 8080);
  EXPECT_EQ(c.gateway.request_deadline_ms, 3000);
}

TEST(Config, UnknownKeyNamesFileLineAndKey) {
  const auto errors = errors_of("gateway:\n  listen: 127.0.0.1:8080\n  lisen: 1\n");
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].rfind("test.yaml:3:3: gateway.lisen: unknown key", 0), 0U) << errors[0];
}

TEST(Config, EveryErrorIsReportedAtOnce) {
  const auto errors = errors_of(
      "gateway:\n  threads: many\n  request_deadline_ms: 0\nkafka:\n  reply_partitions: -1\nbogus: "
      "1\n");
  EXPECT_EQ(errors.size(), 4U);
  EXPECT_TRUE(any_contains(errors, "test.yaml:2:12: gateway.threads: expected a whole number"));
  EXPECT_TRUE(any_contains(errors, "test.yaml:3:24: gateway.request_deadline_ms: must be between"));
  EXPECT_TRUE(any_contains(errors, "test.yaml:5:21: kafka.reply_partitions"));
  EXPECT_TRUE(any_contains(errors, "test.yaml:6:1: bogus: unknown key"));
}

TEST(Config, BadEndpointIsNamed) {
  const auto errors = errors_of("gateway:\n  listen: localhost\n");
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_TRUE(any_contains(errors, "test.yaml:2:11: gateway.listen: expected host:port"));
}

TEST(Config, PartnerHashMustBeSha256Hex) {
  const auto errors = errors_of("partners:\n  - id: a\n    api_key_sha256: [plaintext-key]\n");
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_TRUE(any_contains(errors, "partners[0].api_key_sha256[0]: expected 64 lower-case hex"));
}

TEST(Config, UnknownOperationAndFieldAreNamed) {
  const auto errors = errors_of(
      "partners:\n  - id: a\n    operations: [population.delete]\n    fields:\n      population: "
      "[salary]\n");
  EXPECT_EQ(errors.size(), 2U);
  EXPECT_TRUE(
      any_contains(errors, "partners[0].operations[0]: unknown operation \"population.delete\""));
  EXPECT_TRUE(any_contains(errors, "partners[0].fields.population[0]: unknown field \"salary\""));
}

TEST(Config, DemoPartnerRefusedOnNonLoopbackListen) {
  const auto errors =
      errors_of("gateway:\n  listen: 0.0.0.0:8080\npartners:\n  - id: demo\n    demo: true\n");
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_TRUE(any_contains(errors, "partners[0].demo"));
  EXPECT_TRUE(any_contains(errors, "not a loopback address"));
}

TEST(Config, DemoPartnerAcceptedOnLoopback) {
  const Config c = parse_config(
      "gateway:\n  listen: 127.0.0.1:8080\npartners:\n  - id: demo\n    demo: true\n", "t");
  ASSERT_EQ(c.partners.size(), 1U);
  EXPECT_TRUE(c.partners[0].demo);
}

TEST(Config, YamlSyntaxErrorHasLine) {
  const auto errors = errors_of("gateway:\n  listen: [unclosed\n");
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_TRUE(any_contains(errors, "YAML syntax")) << errors[0];
  EXPECT_EQ(errors[0].rfind("test.yaml:", 0), 0U);
}

TEST(Config, MissingFileSaysSo) {
  try {
    load_config("/nonexistent/lgsp.yaml");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/lgsp.yaml: cannot open"), std::string::npos);
  }
}

TEST(Config, ShippedDevProfileLoads) {
  const Config c = load_config(std::string(LGSP_SOURCE_DIR) + "/config/dev.yaml");
  EXPECT_EQ(c.gateway.listen.to_string(), "127.0.0.1:8080");
  EXPECT_EQ(c.gateway.admin_listen.to_string(), "127.0.0.1:9464");
  EXPECT_EQ(c.partners.size(), 2U);
  EXPECT_TRUE(c.registries.contains("population"));
}

}  // namespace
}  // namespace lgsp::config
