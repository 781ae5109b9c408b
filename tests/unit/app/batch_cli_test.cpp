#include "app/batch_cli.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "tests/support/pki.hpp"
#include "tests/support/scripted_server.hpp"

namespace lgsp::app {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;

// ------------------------------------------------------------------------------ pure helpers

TEST(BatchUploadKind, FromTheFileNameOrTheFormatOption) {
  const auto kind = [](std::string_view path, std::string_view format = "") {
    auto k = upload_kind(path, format);
    if (const auto* e = std::get_if<std::string>(&k)) return "error: " + *e;
    const auto& u = std::get<UploadKind>(k);
    return u.format + (u.gzip ? "+gzip " : " ") + u.content_type();
  };
  EXPECT_EQ(kind("/data/jobs.ndjson"), "ndjson application/x-ndjson");
  EXPECT_EQ(kind("jobs.JSONL"), "ndjson application/x-ndjson");
  EXPECT_EQ(kind("jobs.csv"), "csv text/csv");
  EXPECT_EQ(kind("jobs.csv.gz"), "csv+gzip text/csv");
  EXPECT_EQ(kind("dir.v2/jobs.ndjson.GZ"), "ndjson+gzip application/x-ndjson");
  EXPECT_EQ(kind("export.txt", "csv"), "csv text/csv");
  EXPECT_EQ(kind("export.gz", "ndjson"), "ndjson+gzip application/x-ndjson");
  EXPECT_EQ(kind("jobs.csv", "ndjson"), "ndjson application/x-ndjson");
  EXPECT_EQ(kind("export.txt").rfind("error: cannot tell the format of export.txt", 0), 0u);
  EXPECT_EQ(kind(".gz").rfind("error: ", 0), 0u);
}

TEST(BatchSubmitTarget, EscapesTheQueryValues) {
  SubmitOptions o;
  o.registry = "population";
  o.purpose = "xác minh hồ sơ";
  EXPECT_EQ(submit_target(o),
            "/v1/batches?registry=population&operation=verify&purpose=x%C3%A1c%20minh%20h%E1%BB%93"
            "%20s%C6%A1");
  o.procedure_code = "1.001&x";
  EXPECT_EQ(submit_target(o).substr(submit_target(o).find("&procedure_code")),
            "&procedure_code=1.001%26x");
}

/// A fresh directory under the system's temp dir, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "lgsp-batch-cli-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(path / name, std::ios::binary) << content;
    fs::permissions(path / name, fs::perms::owner_read | fs::perms::owner_write);
    return (path / name).string();
  }
};

TEST(BatchApiKey, FromTheFileTrimmedOrTheEnvironment) {
  const TempDir dir;
  ::unsetenv("LGSP_API_KEY");
  EXPECT_EQ(std::get<0>(load_api_key(dir.write("key", "  lgsp_abc123 \n"))), "lgsp_abc123");
  EXPECT_NE(std::get<1>(load_api_key("")).find("--key-file FILE"), std::string::npos);
  ::setenv("LGSP_API_KEY", "lgsp_fromenv", 1);
  EXPECT_EQ(std::get<0>(load_api_key("")), "lgsp_fromenv");
  // The file wins over the environment.
  EXPECT_EQ(std::get<0>(load_api_key(dir.write("key2", "lgsp_file"))), "lgsp_file");
  ::unsetenv("LGSP_API_KEY");
  EXPECT_EQ(std::get<1>(load_api_key(dir.write("empty", "\n"))),
            "the API key file " + (dir.path / "empty").string() + " is empty");
  // Never a header injection, and the message does not echo the key.
  const std::string bad = std::get<1>(load_api_key(dir.write("bad", "lgsp_a b")));
  EXPECT_NE(bad.find("cannot have"), std::string::npos);
  EXPECT_EQ(bad.find("lgsp_a"), std::string::npos);
  EXPECT_EQ(std::get<1>(load_api_key((dir.path / "missing").string())),
            "cannot read the API key file " + (dir.path / "missing").string());
}

// --------------------------------------------------- the commands against a scripted gateway

using testing::Reply;
using testing::Seen;
using ScriptedGateway = testing::ScriptedServer;

http::response<http::string_body> json_reply(http::status status, std::string body,
                                             const char* type = "application/json") {
  http::response<http::string_body> r{status, 11};
  r.set(http::field::content_type, type);
  r.body() = std::move(body);
  return r;
}

std::string status_json(const std::string& state, int done, int total = 3) {
  return R"({"id":"b-1","registry":"population","operation":"verify","purpose":"p","state":")" +
         state + R"(","counts":{"total":)" + std::to_string(total) + R"(,"done":)" +
         std::to_string(done) +
         R"(,"matched":1,"mismatched":0,"not_found":0,"invalid":0,"failed":0},)"
         R"("rate_per_second":10,"eta_seconds":null,"results":"/v1/batches/b-1/results"})";
}

struct CliTest : ::testing::Test {
  TempDir dir;
  BatchConnection connection(std::uint16_t port, const char* host = "127.0.0.1",
                             const char* scheme = "http") const {
    BatchConnection c;
    c.gateway = std::string(scheme) + "://" + host + ":" + std::to_string(port);
    c.key_file = dir.write("api.key", "lgsp_testkey\n");
    c.retry_pause = std::chrono::milliseconds(1);
    return c;
  }
  SubmitOptions submit(const std::string& file) const {
    SubmitOptions o;
    o.file = file;
    o.registry = "population";
    o.purpose = "kiểm tra";
    return o;
  }
  std::ostringstream out, err;
};

TEST_F(CliTest, SubmitRetriesADroppedConnectionAndA503WithTheSameIdempotencyKey) {
  const std::string body = "\x1f\x8b not really gzip; sent as is";
  ScriptedGateway gw([](const Seen&, int n) -> Reply {
    if (n == 0) return std::nullopt;
    if (n == 1) return json_reply(http::status::service_unavailable, R"({"title":"Draining"})");
    auto r = json_reply(http::status::accepted, status_json("queued", 0));
    r.set(http::field::location, "/v1/batches/b-1");
    return r;
  });
  const auto file = dir.write("people.ndjson.gz", body);
  EXPECT_EQ(batch_submit(connection(gw.port()), submit(file), out, err), 0) << err.str();
  EXPECT_EQ(out.str(), "b-1\n");
  const auto seen = gw.seen();
  ASSERT_EQ(seen.size(), 3u);
  const std::string key = seen[0].headers.at("Idempotency-Key");
  EXPECT_EQ(key.rfind("lgsp-", 0), 0u);
  EXPECT_NE(err.str().find("idempotency key: " + key), std::string::npos);
  for (const auto& s : seen) {
    EXPECT_EQ(s.method, "POST");
    EXPECT_EQ(s.target,
              "/v1/batches?registry=population&operation=verify&purpose=ki%E1%BB%83m%20tra");
    EXPECT_EQ(s.body, body);
    EXPECT_EQ(s.headers.at("Idempotency-Key"), key);
    EXPECT_EQ(s.headers.at("Authorization"), "Bearer lgsp_testkey");
    EXPECT_EQ(s.headers.at("Content-Type"), "application/x-ndjson");
    EXPECT_EQ(s.headers.at("Content-Encoding"), "gzip");
    EXPECT_EQ(s.headers.at("Content-Length"), std::to_string(body.size()));
  }
  EXPECT_EQ(err.str().find("lgsp_testkey"), std::string::npos);  // the API key never shows
}

TEST_F(CliTest, SubmitGivesUpAfterThreeRetries) {
  ScriptedGateway gw([](const Seen&, int) -> Reply {
    return json_reply(http::status::bad_gateway, R"({"title":"Bad Gateway","status":502})",
                      "application/problem+json");
  });
  auto o = submit(dir.write("people.csv", "citizen_id\n001099012345\n"));
  o.idempotency_key = "my-key-1";
  EXPECT_EQ(batch_submit(connection(gw.port()), o, out, err), 1);
  EXPECT_EQ(gw.seen().size(), 4u);
  EXPECT_EQ(gw.seen()[3].headers.at("Idempotency-Key"), "my-key-1");
  EXPECT_EQ(gw.seen()[3].headers.at("Content-Type"), "text/csv");
  EXPECT_EQ(gw.seen()[3].headers.count("Content-Encoding"), 0u);
  EXPECT_NE(err.str().find("error: 502 Bad Gateway"), std::string::npos) << err.str();
  EXPECT_EQ(out.str(), "");
}

TEST_F(CliTest, SubmitPrintsTheProblemAndItsFieldErrorsWithoutRetrying) {
  ScriptedGateway gw([](const Seen&, int) -> Reply {
    return json_reply(http::status::bad_request,
                      R"({"type":"about:blank","title":"Invalid request","status":400,)"
                      R"("detail":"the upload cannot start","errors":[{"field":"purpose",)"
                      R"("detail":"is not a known purpose"}]})",
                      "application/problem+json");
  });
  EXPECT_EQ(batch_submit(connection(gw.port()), submit(dir.write("a.jsonl", "{}\n")), out, err), 1);
  EXPECT_EQ(gw.seen().size(), 1u);
  EXPECT_NE(err.str().find("error: 400 Invalid request: the upload cannot start\n"
                           "  purpose: is not a known purpose\n"),
            std::string::npos)
      << err.str();
}

TEST_F(CliTest, SubmitRefusesAFileOfUnknownFormatBeforeConnecting) {
  EXPECT_EQ(batch_submit(connection(1), submit(dir.write("a.txt", "{}\n")), out, err), 1);
  EXPECT_NE(err.str().find("pass --format ndjson|csv"), std::string::npos);
}

TEST_F(CliTest, WatchPrintsAPlainLinePerPollAndExitsByTheFinalState) {
  for (const auto& [final_state, code] : std::vector<std::pair<std::string, int>>{
           {"completed", 0}, {"failed", 2}, {"cancelled", 2}}) {
    ScriptedGateway gw([&](const Seen& s, int n) -> Reply {
      EXPECT_EQ(s.target, "/v1/batches/b-1");
      if (n == 0) return json_reply(http::status::ok, status_json("queued", 0));
      if (n == 1) return json_reply(http::status::ok, status_json("running", 2));
      return json_reply(http::status::ok, status_json(final_state, 3));
    });
    std::ostringstream o, e;
    EXPECT_EQ(
        batch_watch(connection(gw.port()), {.id = "b-1", .interval_seconds = 0.01}, false, o, e),
        code);
    EXPECT_EQ(o.str(),
              "state=queued done=0 total=3 rate=10 eta_s=-\n"
              "state=running done=2 total=3 rate=10 eta_s=-\n"
              "state=" +
                  final_state +
                  " done=3 total=3 rate=10 eta_s=-\n"
                  "summary state=" +
                  final_state +
                  " total=3 done=3 matched=1 mismatched=0 not_found=0 invalid=0 "
                  "failed=0\n");
  }
}

TEST_F(CliTest, WatchOnATerminalRedrawsOneLine) {
  ScriptedGateway gw([&](const Seen&, int n) -> Reply {
    return json_reply(http::status::ok, status_json(n == 0 ? "running" : "completed", 1 + 2 * n));
  });
  EXPECT_EQ(
      batch_watch(connection(gw.port()), {.id = "b-1", .interval_seconds = 0.01}, true, out, err),
      0);
  const std::string text = out.str();
  EXPECT_EQ(text.rfind("\r[######..............]  33.3%  1/3", 0), 0u) << text;
  EXPECT_NE(text.find("\x1b[K\rcompleted [####################] 100.0%  3/3"), std::string::npos);
  EXPECT_NE(text.find("\njob b-1 completed: 3 of 3 records answered"), std::string::npos);
}

TEST_F(CliTest, WatchOfAnUnknownJobIsAnError) {
  ScriptedGateway gw([](const Seen&, int) -> Reply {
    return json_reply(http::status::not_found, R"({"title":"Not Found","status":404,)"
                                               R"("detail":"no job b-9 for this partner"})");
  });
  EXPECT_EQ(batch_watch(connection(gw.port()), {.id = "b-9"}, false, out, err), 1);
  EXPECT_EQ(err.str(), "error: 404 Not Found: no job b-9 for this partner\n");
}

TEST_F(CliTest, ResultsStreamIntoThePartFileThenTheFile) {
  std::string results;
  for (int i = 1; i <= 20000; ++i) {
    results += R"({"record":)" + std::to_string(i) + R"(,"result":"match"})" + "\n";
  }
  ScriptedGateway gw([&](const Seen& s, int) -> Reply {
    if (s.target == "/v1/batches/b-1")
      return json_reply(http::status::ok, status_json("completed", 3));
    EXPECT_EQ(s.target, "/v1/batches/b-1/results");
    auto r = json_reply(http::status::ok, results, "application/x-ndjson");
    r.chunked(true);
    return r;
  });
  const std::string output = (dir.path / "out.ndjson").string();
  EXPECT_EQ(batch_results(connection(gw.port()), {.id = "b-1", .output = output}, out, err), 0)
      << err.str();
  EXPECT_EQ(out.str(), "20000 lines written to " + output + "\n");
  std::ifstream in(output, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), results);
  EXPECT_FALSE(fs::exists(output + ".part"));
}

TEST_F(CliTest, ResultsStartOverWhenTheDownloadBreaksOff) {
  const std::string results(100000, 'r');
  ScriptedGateway gw([&](const Seen& s, int n) -> Reply {
    if (s.target == "/v1/batches/b-1") {
      return json_reply(http::status::ok, status_json("completed", 3));
    }
    auto r = json_reply(http::status::ok, results + "\n", "application/x-ndjson");
    if (n == 1) r.set("X-Test-Break-Off", "1");
    return r;
  });
  const std::string output = (dir.path / "out.ndjson").string();
  EXPECT_EQ(batch_results(connection(gw.port()), {.id = "b-1", .output = output}, out, err), 0)
      << err.str();
  EXPECT_NE(err.str().find("connection dropped while receiving from 127.0.0.1:"), std::string::npos)
      << err.str();
  EXPECT_EQ(out.str(), "1 lines written to " + output + "\n");
  std::ifstream in(output, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), results + "\n");
}

TEST_F(CliTest, ResultsThatNeverArriveWholeLeaveNoFile) {
  ScriptedGateway gw([&](const Seen& s, int) -> Reply {
    if (s.target == "/v1/batches/b-1") {
      return json_reply(http::status::ok, status_json("completed", 3));
    }
    auto r = json_reply(http::status::ok, std::string(100000, 'r'), "application/x-ndjson");
    r.set("X-Test-Break-Off", "1");
    return r;
  });
  const std::string output = (dir.path / "out.ndjson").string();
  EXPECT_EQ(batch_results(connection(gw.port()), {.id = "b-1", .output = output}, out, err), 1);
  EXPECT_EQ(gw.seen().size(), 5u);  // the status, then the first try and three retries
  EXPECT_NE(err.str().find("error: connection dropped while receiving from"), std::string::npos);
  EXPECT_FALSE(fs::exists(output));
  EXPECT_FALSE(fs::exists(output + ".part"));
}

TEST_F(CliTest, ResultsAsCsvCountALastLineWithoutNewline) {
  ScriptedGateway gw([&](const Seen& s, int) -> Reply {
    if (s.target == "/v1/batches/b-1")
      return json_reply(http::status::ok, status_json("completed", 3));
    EXPECT_EQ(s.target, "/v1/batches/b-1/results?format=csv");
    return json_reply(http::status::ok, "record,result\n1,match\n2,mismatch", "text/csv");
  });
  const std::string output = (dir.path / "out.csv").string();
  EXPECT_EQ(batch_results(connection(gw.port()), {.id = "b-1", .output = output, .format = "csv"},
                          out, err),
            0);
  EXPECT_EQ(out.str(), "3 lines written to " + output + "\n");
}

TEST_F(CliTest, ResultsOfAnUnfinishedJobNeedPartial) {
  ScriptedGateway gw([&](const Seen& s, int) -> Reply {
    if (s.target == "/v1/batches/b-1")
      return json_reply(http::status::ok, status_json("running", 2));
    return json_reply(http::status::ok, "{\"record\":1}\n{\"record\":2}\n", "application/x-ndjson");
  });
  const std::string output = (dir.path / "out.ndjson").string();
  EXPECT_EQ(batch_results(connection(gw.port()), {.id = "b-1", .output = output}, out, err), 1);
  EXPECT_EQ(err.str(),
            "error: job b-1 is running (2 of 3 records answered); wait with `lgsp batch watch "
            "b-1`, or pass --partial to save the answered records\n");
  EXPECT_FALSE(fs::exists(output));
  EXPECT_EQ(gw.seen().size(), 1u);

  std::ostringstream o, e;
  EXPECT_EQ(
      batch_results(connection(gw.port()), {.id = "b-1", .output = output, .partial = true}, o, e),
      0);
  EXPECT_EQ(o.str(), "2 lines written to " + output + "\n");
}

TEST_F(CliTest, ResultsLeaveNoFileWhenTheGatewayRefuses) {
  ScriptedGateway gw([&](const Seen& s, int) -> Reply {
    if (s.target == "/v1/batches/b-1")
      return json_reply(http::status::ok, status_json("completed", 3));
    return json_reply(http::status::gone, R"({"title":"Gone","detail":"results expired"})");
  });
  const std::string output = (dir.path / "out.ndjson").string();
  EXPECT_EQ(batch_results(connection(gw.port()), {.id = "b-1", .output = output}, out, err), 1);
  EXPECT_EQ(err.str(), "error: 410 Gone: results expired\n");
  EXPECT_FALSE(fs::exists(output));
  EXPECT_FALSE(fs::exists(output + ".part"));
}

TEST_F(CliTest, CancelReportsTheStateOrTheConflict) {
  ScriptedGateway gw([&](const Seen& s, int n) -> Reply {
    EXPECT_EQ(s.method, "DELETE");
    if (n == 0) return json_reply(http::status::ok, status_json("cancelled", 2));
    return json_reply(http::status::conflict,
                      R"({"title":"Conflict","detail":"job b-1 has finished already"})");
  });
  EXPECT_EQ(batch_cancel(connection(gw.port()), "b-1", out, err), 0);
  EXPECT_EQ(out.str(), "job b-1 cancelled (2 of 3 records answered)\n");
  EXPECT_EQ(batch_cancel(connection(gw.port()), "b-1", out, err), 1);
  EXPECT_EQ(err.str(), "error: 409 Conflict: job b-1 has finished already\n");
}

TEST_F(CliTest, AConnectionRefusedIsRetriedThenReported) {
  std::uint16_t closed_port = 0;
  {
    asio::io_context ioc;
    tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    closed_port = a.local_endpoint().port();
  }
  EXPECT_EQ(batch_cancel(connection(closed_port), "b-1", out, err), 1);
  EXPECT_NE(err.str().find("retry 3 of 3"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("error: cannot connect to 127.0.0.1:" + std::to_string(closed_port)),
            std::string::npos)
      << err.str();
}

TEST_F(CliTest, HttpsVerifiesTheGatewayCertificateAgainstCacert) {
  const auto pki = testing::make_test_pki(dir.path / "pki");
  ScriptedGateway gw(
      [&](const Seen&, int) -> Reply {
        return json_reply(http::status::ok, status_json("completed", 3));
      },
      &pki);
  auto c = connection(gw.port(), "localhost", "https");
  c.cacert = pki.ca_cert;
  EXPECT_EQ(batch_watch(c, {.id = "b-1"}, false, out, err), 0) << err.str();
  ASSERT_EQ(gw.seen().size(), 1u);
  EXPECT_EQ(gw.seen()[0].headers.at("Host"), "localhost:" + std::to_string(gw.port()));

  // Without the test CA the certificate does not verify: an error, and not retried.
  std::ostringstream o, e;
  c.cacert.clear();
  EXPECT_EQ(batch_watch(c, {.id = "b-1"}, false, o, e), 1);
  EXPECT_NE(e.str().find("error: TLS handshake failed with localhost:"), std::string::npos)
      << e.str();
  EXPECT_EQ(e.str().find("retry"), std::string::npos) << e.str();
  EXPECT_EQ(gw.seen().size(), 1u);
}

}  // namespace
}  // namespace lgsp::app
