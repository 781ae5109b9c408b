#include "util/sealing.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace lgsp::util {
namespace {

SealKeys two_domains() {
  return {{"population", {{"20261201", std::string(32, 'p')}}},
          {"vehicle", {{"20261201", std::string(32, 'v')}}}};
}

TEST(Sealer, OpensWhatItSealedAndHidesThePlaintext) {
  const Sealer s(two_domains(), {});
  const std::string secret = "citizen 001234567890 Nguyễn Văn An";
  const auto sealed = s.seal("population", "lgsp.population.requests", secret);
  EXPECT_EQ(sealed.find("001234567890"), std::string::npos);
  EXPECT_EQ(sealed.find("Nguy"), std::string::npos);
  const auto opened = s.open("lgsp.population.requests", sealed);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->domain, "population");
  EXPECT_EQ(opened->plaintext, secret);
  EXPECT_NE(s.seal("population", "t", secret), s.seal("population", "t", secret))
      << "each message has its own salt";
  EXPECT_TRUE(s.open("t", s.seal("vehicle", "t", "")));
}

TEST(Sealer, RefusesAlteredMovedOrForeignMessages) {
  const Sealer s(two_domains(), {});
  const auto sealed = s.seal("population", "lgsp.population.requests|lgsp.replies:0", "x=1");
  EXPECT_FALSE(s.open("lgsp.population.requests|lgsp.replies:9", sealed)) << "other context";
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    auto altered = sealed;
    altered[i] = static_cast<char>(altered[i] ^ 0x01);
    EXPECT_FALSE(s.open("lgsp.population.requests|lgsp.replies:0", altered)) << "byte " << i;
  }
  EXPECT_FALSE(s.open("c", "x=1")) << "a plain message";
  EXPECT_FALSE(s.open("c", "")) << "nothing";
  EXPECT_FALSE(s.open("c", sealed.substr(0, 20))) << "truncated";
  // A holder of another key (a bus operator's own, or another registry's) cannot forge.
  const Sealer other({{"population", {{"20261201", std::string(32, 'x')}}}}, {});
  EXPECT_FALSE(s.open("c", other.seal("population", "c", "x=1")));
  const Sealer vehicle_only({{"vehicle", {{"20261201", std::string(32, 'v')}}}}, {});
  EXPECT_FALSE(vehicle_only.open("c", s.seal("population", "c", "x=1")));
  EXPECT_FALSE(vehicle_only.has_key("population"));
  EXPECT_EQ(s.open_as("vehicle", "c", s.seal("vehicle", "c", "v=1")), "v=1");
  EXPECT_FALSE(s.open_as("population", "c", s.seal("vehicle", "c", "v=1")))
      << "sealed for another domain";
  EXPECT_THROW((void)vehicle_only.seal("population", "c", "x"), std::logic_error);
}

TEST(Sealer, RotationSealsWithThePinnedOrNewestKeyAndOpensWithAny) {
  SealKeys keys{{"population", {{"20261201", std::string(32, 'a')}}}};
  const Sealer old_only(keys, {});
  keys["population"]["20270101"] = std::string(32, 'b');
  const Sealer pinned(keys, {{"population", "20261201"}});
  const Sealer newest(keys, {});
  // Step 1: everyone holds both, still sealing with the old one: old readers still read.
  EXPECT_TRUE(old_only.open("c", pinned.seal("population", "c", "m")));
  // Step 2: sealing with the new one; readers with both keys read old and new messages.
  EXPECT_FALSE(old_only.open("c", newest.seal("population", "c", "m")));
  EXPECT_TRUE(newest.open("c", old_only.seal("population", "c", "m")));
  EXPECT_THROW(Sealer(keys, {{"population", "20250101"}}), std::invalid_argument);
  EXPECT_NO_THROW(Sealer(keys, {{"vehicle", "20250101"}})) << "a domain this process lacks";
}

TEST(Sealer, UnsealedPassesBytesThrough) {
  const Sealer s;
  EXPECT_FALSE(s.sealing());
  EXPECT_EQ(s.seal("population", "c", "plain"), "plain");
  EXPECT_EQ(s.open("c", "plain")->plaintext, "plain");
}

TEST(SealKeys, ReadsAKeyDirectoryAndNamesABadFile) {
  const auto dir =
      std::filesystem::temp_directory_path() /
      ("lgsp-seal-keys-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  std::filesystem::remove_all(dir);
  const auto path = write_seal_key(dir.string(), "population", "20261201");
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  EXPECT_THROW(write_seal_key(dir.string(), "population", "20261201"), std::runtime_error)
      << "never overwrites a key";
  write_seal_key(dir.string(), "audit", "20261201");
  std::filesystem::create_directory(dir / "..2026_12_06");  // a mounted Secret's own entries
  std::ofstream(dir / "..data") << "x";
  const auto keys = read_seal_keys(dir.string());
  ASSERT_EQ(keys.size(), 2U);
  EXPECT_EQ(keys.at("population").at("20261201").size(), 32U);
  // Two readers of the same directory seal and open each other's messages.
  const Sealer a(keys, {}), b(read_seal_keys(dir.string()), {});
  EXPECT_TRUE(b.open("c", a.seal("audit", "c", "e")));

  std::ofstream(dir / "vehicle.20261201") << "c2hvcnQ=\n";  // "short"
  try {
    read_seal_keys(dir.string());
    ADD_FAILURE() << "a short key was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("vehicle.20261201"), std::string::npos) << e.what();
  }
  std::filesystem::remove(dir / "vehicle.20261201");
  std::ofstream(dir / "README") << "x";
  EXPECT_THROW(read_seal_keys(dir.string()), std::runtime_error);
  std::filesystem::remove_all(dir);
  EXPECT_THROW(read_seal_keys(dir.string()), std::runtime_error);
}

}  // namespace
}  // namespace lgsp::util
