#include "app/batch_status.hpp"

#include <gtest/gtest.h>

namespace lgsp::app {
namespace {

BatchStatus running() {
  BatchStatus s;
  s.id = "b-42";
  s.state = "running";
  s.counts = {.total = 1000000,
              .done = 452000,
              .matched = 400000,
              .mismatched = 40000,
              .not_found = 10000,
              .invalid = 2000,
              .failed = 0};
  s.rate_per_second = 12345.4;
  s.eta_seconds = 44.4;
  return s;
}

TEST(BatchStatusParse, ReadsTheMembersTheCliUses) {
  const auto parsed = parse_batch_status(R"({"id":"b-42","registry":"population",
      "operation":"verify","purpose":"p","state":"running","created_at":"2024-01-01T00:00:00Z",
      "started_at":null,"finished_at":null,"counts":{"total":1000000,"done":452000,
      "matched":400000,"mismatched":40000,"not_found":10000,"invalid":2000,"failed":3},
      "rate_per_second":12345.6,"eta_seconds":44,"results":"/v1/batches/b-42/results"})");
  ASSERT_TRUE(std::holds_alternative<BatchStatus>(parsed));
  const auto& s = std::get<BatchStatus>(parsed);
  EXPECT_EQ(s.id, "b-42");
  EXPECT_EQ(s.state, "running");
  EXPECT_EQ(s.counts.total, 1000000);
  EXPECT_EQ(s.counts.done, 452000);
  EXPECT_EQ(s.counts.failed, 3);
  EXPECT_DOUBLE_EQ(s.rate_per_second, 12345.6);
  ASSERT_TRUE(s.eta_seconds.has_value());
  EXPECT_DOUBLE_EQ(*s.eta_seconds, 44);
  EXPECT_FALSE(s.finished());
}

TEST(BatchStatusParse, NullEtaIsUnknownAndBrokenBodiesAreErrors) {
  const auto parsed =
      parse_batch_status(R"({"id":"x","state":"queued","counts":{},"eta_seconds":null})");
  ASSERT_TRUE(std::holds_alternative<BatchStatus>(parsed));
  EXPECT_FALSE(std::get<BatchStatus>(parsed).eta_seconds.has_value());
  EXPECT_EQ(std::get<std::string>(parse_batch_status("<html>")),
            "the job status is not a JSON object");
  EXPECT_EQ(std::get<std::string>(parse_batch_status(R"({"state":"queued","counts":{}})")),
            "the job status has no id");
  EXPECT_EQ(std::get<std::string>(parse_batch_status(R"({"id":"x","state":"queued"})")),
            "the job status has no counts");
}

TEST(BatchProgress, GroupsThousands) {
  EXPECT_EQ(group_thousands(0), "0");
  EXPECT_EQ(group_thousands(999), "999");
  EXPECT_EQ(group_thousands(1000), "1,000");
  EXPECT_EQ(group_thousands(452000), "452,000");
  EXPECT_EQ(group_thousands(1000000), "1,000,000");
  EXPECT_EQ(group_thousands(-12345), "-12,345");
}

TEST(BatchProgress, FormatsEtaAsMinutesOrHours) {
  EXPECT_EQ(format_eta(0.0), "0:00");
  EXPECT_EQ(format_eta(44.4), "0:44");
  EXPECT_EQ(format_eta(59.6), "1:00");
  EXPECT_EQ(format_eta(725), "12:05");
  EXPECT_EQ(format_eta(3723), "1:02:03");
  EXPECT_EQ(format_eta(100 * 3600), "100:00:00");
  EXPECT_EQ(format_eta(-5), "0:00");
  EXPECT_EQ(format_eta(std::nullopt), "--:--");
  EXPECT_EQ(format_eta(std::numeric_limits<double>::infinity()), "--:--");
}

TEST(BatchProgress, BarLineForATerminal) {
  EXPECT_EQ(progress_bar_line(running()),
            "[#########...........]  45.2%  452,000/1,000,000  12,345 rec/s  ETA 0:44  "
            "matched 400,000 mismatched 40,000 not found 10,000 invalid 2,000");
  auto s = running();
  s.counts.failed = 7;
  s.eta_seconds.reset();
  EXPECT_EQ(progress_bar_line(s),
            "[#########...........]  45.2%  452,000/1,000,000  12,345 rec/s  ETA --:--  "
            "matched 400,000 mismatched 40,000 not found 10,000 invalid 2,000 failed 7");
  BatchStatus queued;
  queued.state = "queued";
  EXPECT_EQ(progress_bar_line(queued),
            "queued [....................]   0.0%  0/0  0 rec/s  ETA --:--  matched 0 mismatched 0 "
            "not found 0 invalid 0");
  auto done = running();
  done.state = "completed";
  done.counts.done = done.counts.total;
  EXPECT_EQ(progress_bar_line(done).rfind("completed [####################] 100.0%  1,000,000/", 0),
            0u)
      << progress_bar_line(done);
}

TEST(BatchProgress, PlainLineWhenNotATerminal) {
  EXPECT_EQ(progress_plain_line(running()),
            "state=running done=452000 total=1000000 rate=12345 eta_s=44");
  auto s = running();
  s.eta_seconds.reset();
  EXPECT_EQ(progress_plain_line(s), "state=running done=452000 total=1000000 rate=12345 eta_s=-");
}

TEST(BatchProgress, SummaryLines) {
  auto s = running();
  s.state = "completed";
  s.counts.done = 1000000;
  EXPECT_EQ(summary_line(s, false),
            "summary state=completed total=1000000 done=1000000 matched=400000 mismatched=40000 "
            "not_found=10000 invalid=2000 failed=0");
  EXPECT_EQ(summary_line(s, true),
            "job b-42 completed: 1,000,000 of 1,000,000 records answered (matched 400,000, "
            "mismatched 40,000, not found 10,000, invalid 2,000, failed 0)");
}

TEST(BatchProblem, ProblemJsonBecomesOneLinePlusFieldErrors) {
  EXPECT_EQ(problem_lines(400, R"({"type":"about:blank","title":"Invalid request","status":400,
      "detail":"the query is incomplete","errors":[{"field":"purpose","detail":"is required"},
      {"field":"registry","detail":"unknown registry"}]})"),
            (std::vector<std::string>{"error: 400 Invalid request: the query is incomplete",
                                      "  purpose: is required", "  registry: unknown registry"}));
  EXPECT_EQ(problem_lines(409, R"({"title":"Conflict"})"),
            std::vector<std::string>{"error: 409 Conflict"});
  EXPECT_EQ(problem_lines(502, "<html>bad gateway</html>"),
            std::vector<std::string>{"error: 502 Bad Gateway"});
}

}  // namespace
}  // namespace lgsp::app
