// The agent's service over real gRPC in-process, on a fake queue directory.
#include "agent/service/agent_service.h"

#include <grpcpp/grpcpp.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/in_process_agent.h"

namespace mailfleet {
namespace {

using ::testing::HasSubstr;

using ::mailfleet::testing::InProcessAgentTest;
using ::mailfleet::testing::kBigMessageLines;

class AgentServiceTest : public InProcessAgentTest {
 protected:
  void SetUp() override { StartAgent(); }

  grpc::Status ListPage(const v1::ListRequest& req, v1::ListResponse* resp) {
    grpc::ClientContext ctx;
    return stub_->List(&ctx, req, resp);
  }
};

TEST_F(AgentServiceTest, ListPagesThroughEveryMessageInArrivalOrder) {
  v1::ListRequest req;
  req.set_page_size(10);
  std::vector<std::string> seen;
  int pages = 0;
  for (;;) {
    v1::ListResponse resp;
    ASSERT_TRUE(ListPage(req, &resp).ok());
    ++pages;
    for (const auto& m : resp.messages()) seen.push_back(m.queue_id());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, ids_);
}

TEST_F(AgentServiceTest, ListAppliesTheFilter) {
  v1::ListRequest req;
  req.mutable_filter()->set_pattern("five.example");
  req.mutable_filter()->add_fields(v1::MATCH_FIELD_RECIPIENT);
  v1::ListResponse resp;
  ASSERT_TRUE(ListPage(req, &resp).ok());
  EXPECT_EQ(resp.messages_size(), 5);
  EXPECT_EQ(resp.messages(0).queue(), v1::POSTFIX_DEFERRED);
  EXPECT_EQ(resp.messages(0).client_address(), "192.0.2.7");
  EXPECT_EQ(resp.messages(0).arrival_time().seconds(), 1700000000);
  EXPECT_EQ(resp.messages(0).arrival_time().nanos(), 123456000);
}

TEST_F(AgentServiceTest, BadRequestsAreInvalidArgumentWithAReason) {
  v1::ListResponse resp;
  v1::ListRequest req;
  req.mutable_filter()->set_regex(true);
  req.mutable_filter()->set_pattern("(unclosed");
  grpc::Status s = ListPage(req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("invalid regular expression"));

  req = {};
  req.set_page_token("garbage");
  EXPECT_EQ(ListPage(req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req = {};
  req.set_page_size(kMaxPageSize + 1);
  EXPECT_EQ(ListPage(req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req = {};
  req.mutable_filter()->add_queues(static_cast<v1::QueueKind>(99));
  EXPECT_EQ(ListPage(req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AgentServiceTest, SummaryReportsQueueAndAgent) {
  grpc::ClientContext ctx;
  v1::SummaryRequest req;
  v1::SummaryResponse resp;
  ASSERT_TRUE(stub_->Summary(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.summary().total_messages(), 25);
  ASSERT_EQ(resp.summary().queues_size(), 1);
  EXPECT_EQ(resp.summary().queues(0).queue(), v1::POSTFIX_DEFERRED);
  EXPECT_EQ(resp.summary().queues(0).age_buckets_size(), 10);
  EXPECT_EQ(resp.summary().age_bucket_bounds_size(), 9);
  EXPECT_EQ(resp.summary().top_domains(0).domain(), "x.example");
  EXPECT_EQ(resp.agent().hostname(), "gw-test");
  EXPECT_EQ(resp.agent().instance_id().size(), 16u);
  EXPECT_EQ(resp.agent().generation(), 1);
}

TEST_F(AgentServiceTest, GetMessageStreamsEnvelopeThenBoundedChunks) {
  grpc::ClientContext ctx;
  v1::GetMessageRequest req;
  req.set_queue_id(ids_[3]);
  auto reader = stub_->GetMessage(&ctx, req);
  v1::GetMessageResponse part;
  ASSERT_TRUE(reader->Read(&part));
  ASSERT_TRUE(part.has_envelope());
  EXPECT_EQ(part.envelope().queue_id(), ids_[3]);
  std::string content;
  int chunks = 0;
  while (reader->Read(&part)) {
    ASSERT_FALSE(part.has_envelope());
    EXPECT_LE(part.content().size(), 64u * 1024u);
    content += part.content();
    ++chunks;
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_GT(chunks, 1);
  EXPECT_EQ(content.size(),
            std::string("Subject: message 3\n\n").size() + kBigMessageLines * 61u);
}

TEST_F(AgentServiceTest, AReaderThatStopsAndCancelsDoesNotWedgeTheService) {
  // The 730 KB message streams in a dozen chunks, more than the server
  // reads ahead; the client takes the
  // envelope, then gives up. The worker blocked on the full queue must let
  // go, and later reads must work.
  for (int i = 0; i < 40; ++i) {
    grpc::ClientContext ctx;
    v1::GetMessageRequest req;
    req.set_queue_id(ids_[3]);
    auto reader = stub_->GetMessage(&ctx, req);
    v1::GetMessageResponse part;
    ASSERT_TRUE(reader->Read(&part));
    ctx.TryCancel();
    while (reader->Read(&part)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  grpc::ClientContext ctx;
  v1::GetMessageRequest req;
  req.set_queue_id(ids_[3]);
  req.set_envelope_only(true);
  auto reader = stub_->GetMessage(&ctx, req);
  v1::GetMessageResponse part;
  ASSERT_TRUE(reader->Read(&part));
  EXPECT_TRUE(part.has_envelope());
  EXPECT_FALSE(reader->Read(&part));
  EXPECT_TRUE(reader->Finish().ok());
}

TEST_F(AgentServiceTest, GetMessageRefusesMalformedIdsAndReportsUnknownOnes) {
  for (const char* id : {"../etc/passwd", "", "abc"}) {
    grpc::ClientContext ctx;
    v1::GetMessageRequest req;
    req.set_queue_id(id);
    auto reader = stub_->GetMessage(&ctx, req);
    v1::GetMessageResponse part;
    EXPECT_FALSE(reader->Read(&part));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT) << id;
  }
  grpc::ClientContext ctx;
  v1::GetMessageRequest req;
  req.set_queue_id("FFFFFFFFFF");
  auto reader = stub_->GetMessage(&ctx, req);
  v1::GetMessageResponse part;
  EXPECT_FALSE(reader->Read(&part));
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("FFFFFFFFFF"));
}

TEST_F(AgentServiceTest, ActRefusesUnsafeOrMalformedSelectionsBeforeRunningAnything) {
  auto act = [&](const v1::ActRequest& req) {
    grpc::ClientContext ctx;
    v1::ActResponse resp;
    return stub_->Act(&ctx, req, &resp);
  };
  v1::ActRequest req;
  req.set_action(v1::ACTION_DELETE);
  req.mutable_selector()->mutable_filter();  // selects everything
  grpc::Status s = act(req);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("all"));
  // A pattern that happens to match every message counts as everything.
  req.mutable_selector()->mutable_filter()->set_pattern("example");
  s = act(req);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("every message"));
  req.mutable_selector()->add_queue_ids(ids_[0]);
  EXPECT_EQ(act(req).error_code(), grpc::StatusCode::INVALID_ARGUMENT);  // both
  req.mutable_selector()->clear_filter();
  req.mutable_selector()->add_queue_ids("../../etc/passwd");
  s = act(req);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("invalid character"));
  req = {};
  req.set_action(v1::ACTION_HOLD);
  EXPECT_EQ(act(req).error_code(), grpc::StatusCode::INVALID_ARGUMENT);  // nothing
  req.mutable_selector()->add_queue_ids(ids_[0]);
  req.set_action(static_cast<v1::Action>(42));
  EXPECT_EQ(act(req).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  absl::MutexLock lock(&runner_.mu);
  EXPECT_TRUE(runner_.calls.empty());
}

TEST_F(AgentServiceTest, DryRunReportsTheSelectionAndChangesNothing) {
  grpc::ClientContext ctx;
  v1::ActRequest req;
  req.set_action(v1::ACTION_HOLD);
  req.set_dry_run(true);
  req.mutable_selector()->mutable_filter()->set_pattern("five.example");
  v1::ActResponse resp;
  ASSERT_TRUE(stub_->Act(&ctx, req, &resp).ok());
  EXPECT_TRUE(resp.dry_run());
  EXPECT_EQ(resp.matched(), 5);
  EXPECT_EQ(resp.queue_ids_size(), 5);
  EXPECT_EQ(resp.succeeded(), 0);
  absl::MutexLock lock(&runner_.mu);
  EXPECT_TRUE(runner_.calls.empty());
}

TEST_F(AgentServiceTest, HoldByIdsReportsEachFailure) {
  grpc::ClientContext ctx;
  v1::ActRequest req;
  req.set_action(v1::ACTION_HOLD);
  req.mutable_selector()->add_queue_ids(ids_[1]);
  req.mutable_selector()->add_queue_ids(ids_[2]);
  req.mutable_selector()->add_queue_ids("FFFFFF0001");  // not in the queue
  v1::ActResponse resp;
  grpc::Status s = stub_->Act(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.matched(), 3);
  EXPECT_EQ(resp.succeeded(), 2);
  EXPECT_EQ(resp.failed(), 1);
  ASSERT_EQ(resp.failures_size(), 1);
  EXPECT_EQ(resp.failures(0).queue_id(), "FFFFFF0001");
  absl::MutexLock lock(&runner_.mu);
  ASSERT_EQ(runner_.calls.size(), 1u);
  EXPECT_THAT(runner_.calls[0],
              ::testing::ElementsAre("postsuper", "-c", "/etc/postfix-test", "-h", "-"));
}

TEST_F(AgentServiceTest, FlushTakesExactlyOneTarget) {
  auto flush = [&](const v1::FlushRequest& req) {
    grpc::ClientContext ctx;
    v1::FlushResponse resp;
    return stub_->Flush(&ctx, req, &resp);
  };
  v1::FlushRequest req;
  EXPECT_EQ(flush(req).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.set_all(true);
  EXPECT_TRUE(flush(req).ok());
  req.set_site("example.com");
  EXPECT_EQ(flush(req).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req = {};
  req.set_site("-x; rm");
  EXPECT_EQ(flush(req).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req = {};
  req.add_queue_ids(ids_[0]);
  EXPECT_TRUE(flush(req).ok());
}

}  // namespace
}  // namespace mailfleet
