// The upstream backend's generic half: an upstream answer mapped onto a module's columns as
// config declares, and the config block that declares it. (The transport's failure modes:
// upstream_client_test.cpp; through the whole stack: tests/integration/upstream_test.cpp.)
#include "registries/backends/upstream_record.hpp"

#include <gtest/gtest.h>

#include <array>
#include <boost/json/parse.hpp>

#include "config/config.hpp"
#include "registries/population/store.hpp"

namespace lgsp::registries::upstream {
namespace {

std::map<std::string, config::UpstreamField> ministry_fields() {
  return {{"citizen_id", {"/data/soDinhDanh", "", {}}},
          {"full_name", {"/data/hoVaTen", "", {}}},
          {"date_of_birth", {"/data/ngaySinh", "DD/MM/YYYY", {}}},
          {"gender", {"/data/gioiTinh", "", {{"Nam", "male"}, {"Nữ", "female"}}}},
          {"province", {"/data/noiThuongTru/tinh", "", {}}}};
}

constexpr std::array<std::string_view, 2> kRequired{"citizen_id", "full_name"};

TEST(UpstreamRecord, MapsTheMinistrysNamesDatesAndValues) {
  const auto answer = boost::json::parse(
      R"({"data":{"soDinhDanh":"001099012345","hoVaTen":"Nguyễn Văn An","ngaySinh":"01/05/1999",
          "gioiTinh":"Nam","noiThuongTru":{"tinh":"Hà Nội"},"other":1}})");
  const auto r = map_answer(answer, ministry_fields(), kRequired);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->at("citizen_id"), "001099012345");
  EXPECT_EQ(r->at("date_of_birth"), "1999-05-01");
  EXPECT_EQ(r->at("gender"), "male");
  EXPECT_EQ(r->at("province"), "Hà Nội");
  EXPECT_EQ(r->size(), 5U) << "members not declared are not read";
}

TEST(UpstreamRecord, AnAnswerOfAnotherShapeIsMalformedNeverGuessed) {
  const auto check = [](const char* body, const char* column) {
    std::string why;
    const auto r = map_answer(boost::json::parse(body), ministry_fields(), kRequired, &why);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error(), make_error_code(Error::kMalformed));
    EXPECT_EQ(why.rfind(column, 0), 0U) << why;
    EXPECT_EQ(why.find("001099012345"), std::string::npos) << "never the data: " << why;
  };
  check(R"({"data":{"soDinhDanh":"001099012345"}})", "full_name");  // required, missing
  check(R"({"data":{"soDinhDanh":"001099012345","hoVaTen":"A","ngaySinh":"1999-05-01"}})",
        "date_of_birth");  // another date form than declared
  check(R"({"data":{"soDinhDanh":"001099012345","hoVaTen":"A","gioiTinh":"M"}})",
        "gender");  // a value the mapping does not know
  check(R"({"data":{"soDinhDanh":"001099012345","hoVaTen":["A"]}})", "full_name");  // a list
  check(R"({"data":{"soDinhDanh":"001099012345","hoVaTen":"A","ngaySinh":"31/02/1999"}})",
        "date_of_birth");  // no such day
}

TEST(UpstreamRecord, DatesInEachDeclaredForm) {
  EXPECT_EQ(iso_date("01/05/1999", "DD/MM/YYYY"), "1999-05-01");
  EXPECT_EQ(iso_date("19990501", "YYYYMMDD"), "1999-05-01");
  EXPECT_EQ(iso_date("1999-05-01", "YYYY-MM-DD"), "1999-05-01");
  EXPECT_FALSE(iso_date("1/5/1999", "DD/MM/YYYY"));
  EXPECT_FALSE(iso_date("29/02/2023", "DD/MM/YYYY"));
}

TEST(UpstreamRecord, TransientFailuresAreTryAgainOthersAreNot) {
  const auto again = boost::system::errc::resource_unavailable_try_again;
  EXPECT_TRUE(make_error_code(Error::kTimeout) == again);
  EXPECT_TRUE(make_error_code(Error::kUnavailable) == again);
  EXPECT_TRUE(make_error_code(Error::kCircuitOpen) == again);
  EXPECT_FALSE(make_error_code(Error::kMalformed) == again);
  EXPECT_FALSE(make_error_code(Error::kRejected) == again);
  // No path for this kind of subject: the partner must ask another way (a 400), not a
  // failure of the registry.
  EXPECT_TRUE(make_error_code(Error::kUnsupported) == boost::system::errc::operation_not_supported);
  EXPECT_FALSE(make_error_code(Error::kUnsupported) == again);
}

std::vector<std::string> config_errors(const std::string& upstream) {
  try {
    config::parse_config("registries:\n  population:\n    backend: upstream\n" + upstream,
                         "t.yaml");
  } catch (const config::ConfigError& e) {
    return e.errors();
  }
  return {};
}

TEST(UpstreamConfig, AGoodBlockLoads) {
  const auto c = config::parse_config(R"(registries:
  population:
    backend: upstream
    upstream:
      base_url: http://127.0.0.1:18090
      timeout_ms: 500
      paths: {citizen_id: "/api/v2/cong-dan/{value}"}
      fields:
        citizen_id: /data/soDinhDanh
        full_name: /data/hoVaTen
        date_of_birth: {from: /data/ngaySinh, date_format: DD/MM/YYYY}
        gender: {from: /data/gioiTinh, values: {Nam: male, "Nữ": female}}
)",
                                      "t.yaml");
  const auto& u = c.registries.at("population").upstream;
  EXPECT_EQ(u.timeout_ms, 500);
  EXPECT_EQ(u.paths.at("citizen_id"), "/api/v2/cong-dan/{value}");
  EXPECT_EQ(u.fields.at("gender").values.at("Nữ"), "female");
  EXPECT_EQ(u.fields.at("date_of_birth").date_format, "DD/MM/YYYY");
}

TEST(UpstreamConfig, EachMistakeNamesItsKey) {
  const auto has = [](const std::vector<std::string>& errors, const std::string& needle) {
    for (const auto& e : errors) {
      if (e.find(needle) != std::string::npos) return true;
    }
    return false;
  };
  const auto none = config_errors("");
  EXPECT_TRUE(has(none, "registries.population.upstream: required")) << none.front();
  const auto bad = config_errors(R"(    upstream:
      base_url: http://example.org
      paths: {plate_number: "/x/{value}", citizen_id: /x}
      fields:
        full_name: hoVaTen
        shoe_size: /data/x
        date_of_birth: {from: /data/d, date_format: MM-DD}
)");
  EXPECT_TRUE(has(bad, "upstream.base_url")) << "plain http off loopback";
  EXPECT_TRUE(has(bad, "upstream.paths.plate_number: unknown subject key"));
  EXPECT_TRUE(has(bad, "upstream.paths.citizen_id: expected a path"));
  EXPECT_TRUE(has(bad, "upstream.fields.full_name: expected a JSON Pointer"));
  EXPECT_TRUE(has(bad, "upstream.fields.shoe_size: unknown column"));
  EXPECT_TRUE(has(bad, "upstream.fields.date_of_birth.date_format"));
  EXPECT_TRUE(has(bad, "upstream.fields.citizen_id: required"));
  const auto pasted = config_errors(
      "    upstream: {base_url: \"http://127.0.0.1:1\", bearer_token_env: \"eyJ.secret-token\","
      " paths: {citizen_id: \"/c/{value}\"}, fields: {citizen_id: /a, full_name: /b,"
      " date_of_birth: /c, gender: /d}}\n");
  EXPECT_TRUE(has(pasted, "upstream.bearer_token_env")) << "a token is not a variable name";
  for (const auto& e : pasted) EXPECT_EQ(e.find("secret-token"), std::string::npos) << e;
  for (const auto& e : bad) EXPECT_EQ(e.rfind("t.yaml:", 0), 0U) << "file:line first: " << e;
  const auto other = config::parse_config(
      "registries:\n  vehicle: {backend: sqlite, sqlite_path: v.db}\n", "t.yaml");
  EXPECT_EQ(other.registries.at("vehicle").backend, "sqlite");
  const auto no_upstream = config_errors("");
  const auto vehicle_upstream = [] {
    try {
      config::parse_config("registries:\n  vehicle: {backend: upstream}\n", "t.yaml");
    } catch (const config::ConfigError& e) {
      return e.errors();
    }
    return std::vector<std::string>{};
  }();
  EXPECT_TRUE(has(vehicle_upstream, "(supported: sqlite, postgres)"))
      << "a module without an upstream backend does not offer it";
}

TEST(UpstreamConfig, AListRegistryNamesWhereItsListIs) {
  const std::string civil = R"(registries:
  civil-status:
    backend: upstream
    upstream:
      base_url: http://127.0.0.1:18091
      paths: {citizen_id: "/api/v1/ho-tich/{value}"}
RECORDS      fields:
        registration_number: /soDangKy
        kind: {from: /loaiViec, values: {KHAI_SINH: birth, KHAI_TU: death, KET_HON: marriage}}
        event_date: {from: /ngaySuKien, date_format: DD/MM/YYYY}
)";
  const auto with = [&](const std::string& records) {
    std::string text = civil;
    text.replace(text.find("RECORDS"), 7, records);
    return text;
  };
  const auto c = config::parse_config(with("      records: /data/dangKy\n"), "t.yaml");
  EXPECT_EQ(c.registries.at("civil-status").upstream.records, "/data/dangKy");
  EXPECT_EQ(c.registries.at("civil-status").upstream.fields.at("kind").values.at("KET_HON"),
            "marriage");
  const auto errors = [&](const std::string& text) {
    try {
      config::parse_config(text, "t.yaml");
    } catch (const config::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(errors(with("")).find("civil-status.upstream.records: required"), std::string::npos)
      << errors(with(""));
  EXPECT_NE(errors(with("      records: data\n")).find("records: expected a JSON Pointer"),
            std::string::npos);
  // Population holds one record per citizen: a list there is a mistake, named.
  const auto one = errors(R"(registries:
  population:
    backend: upstream
    upstream:
      base_url: http://127.0.0.1:18090
      paths: {citizen_id: "/c/{value}"}
      records: /data
      fields: {citizen_id: /a, full_name: /b, date_of_birth: /c, gender: /d}
)");
  EXPECT_NE(one.find("population.upstream.records: this registry holds one record"),
            std::string::npos)
      << one;
}

}  // namespace
}  // namespace lgsp::registries::upstream
