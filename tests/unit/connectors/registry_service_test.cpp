#include "connectors/registry_service.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lgsp::connectors {
namespace {

namespace v1 = bus::v1;

/// Answers each request with its subject as the detail, and remembers what it was asked.
class EchoService final : public RegistryService {
 public:
  std::string_view registry() const override { return "echo"; }
  v1::Reply handle(const v1::Request& request) override {
    asked.push_back(request.request_id());
    v1::Reply reply;
    reply.set_request_id(request.request_id());
    if (request.subject().empty()) {
      fail(reply, v1::STATUS_BAD_REQUEST, "no subject");
    } else {
      reply.set_status(v1::STATUS_OK);
      reply.set_detail(request.subject());
    }
    return reply;
  }
  std::vector<std::string> asked;
};

TEST(RegistryService, DefaultBatchAnswersItemByItemInOrder) {
  v1::Request chunk;
  chunk.set_request_id("job-7-3");
  for (const char* id : {"001", "", "003"}) {
    auto* item = chunk.add_batch();
    item->set_request_id(std::string("r") + id);
    if (*id != '\0') item->set_subject(id);
  }
  EchoService service;
  v1::Reply out;
  service.handle_batch(chunk, out);
  EXPECT_EQ(out.request_id(), "job-7-3");
  EXPECT_EQ(out.status(), v1::STATUS_OK);
  EXPECT_EQ(service.asked, (std::vector<std::string>{"r001", "r", "r003"}));
  ASSERT_EQ(out.batch_size(), 3);
  EXPECT_EQ(out.batch(0).request_id(), "r001");
  EXPECT_EQ(out.batch(0).detail(), "001");
  EXPECT_EQ(out.batch(1).status(), v1::STATUS_BAD_REQUEST);
  EXPECT_EQ(out.batch(2).detail(), "003");
}

}  // namespace
}  // namespace lgsp::connectors
