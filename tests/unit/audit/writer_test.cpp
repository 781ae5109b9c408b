#include "audit/writer.hpp"

#include <gtest/gtest.h>

namespace lgsp::audit {
namespace {

bus::v1::AuditEvent make_event() {
  bus::v1::AuditEvent e;
  e.set_event_id("ev-1");
  e.set_time_unix_ms(1'700'000'000'000);
  e.set_request_id("req-1");
  e.set_partner_id("partner-1");
  e.set_operation("population.batch-verify");
  e.add_subject_hashes("s-a");
  e.add_subject_hashes("s-b");
  e.set_purpose("benefit eligibility");
  e.set_on_behalf_of("officer-7");
  e.set_procedure_code("PROC-42");
  e.add_fields_released("full_name");
  e.set_outcome("ok");
  e.set_http_status(200);
  e.set_latency_us(1234);
  return e;
}

TEST(AuditWriterToRecord, CopiesEveryEventFieldIncludingTheBatchAndSourceFields) {
  bus::v1::AuditEvent e = make_event();
  e.set_batch_id("job-1");
  e.set_subject_count(2);
  e.set_source("gateway-1-abc");
  e.set_source_seq(41);
  const AuditRecord r = to_record(e);
  EXPECT_EQ(r.event_id, "ev-1");
  EXPECT_EQ(r.time_unix_ms, 1'700'000'000'000);
  EXPECT_EQ(r.request_id, "req-1");
  EXPECT_EQ(r.partner_id, "partner-1");
  EXPECT_EQ(r.operation, "population.batch-verify");
  EXPECT_EQ(r.subject_hashes, (std::vector<std::string>{"s-a", "s-b"}));
  EXPECT_EQ(r.purpose, "benefit eligibility");
  EXPECT_EQ(r.on_behalf_of, "officer-7");
  EXPECT_EQ(r.procedure_code, "PROC-42");
  EXPECT_EQ(r.fields_released, (std::vector<std::string>{"full_name"}));
  EXPECT_EQ(r.outcome, "ok");
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.latency_us, 1234);
  EXPECT_EQ(r.batch_id, "job-1");
  EXPECT_EQ(r.subject_count, 2);
  EXPECT_EQ(r.source, "gateway-1-abc");
  EXPECT_EQ(r.source_seq, 41);
  EXPECT_EQ(r.seq, 0);  // the store's to assign, with the hashes
  EXPECT_EQ(r.hash, "");
}

TEST(AuditWriterToRecord, EventOutsideABulkJobHasNoBatchFields) {
  const AuditRecord r = to_record(make_event());
  EXPECT_EQ(r.batch_id, "");
  EXPECT_EQ(r.subject_count, 0);
}

}  // namespace
}  // namespace lgsp::audit
