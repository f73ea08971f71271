// Summary, List and GetMessage over in-process gRPC on fake agents: merged
// order, gateway tags, paging to the end across gateways, failures as rows,
// bad requests refused before any call.
#include <algorithm>
#include <set>
#include <tuple>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/list_cursor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/controller/service/fleet_fixture.h"

namespace mailfleet::controller {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::Message At(const std::string& id, int64_t seconds,
               v1::QueueKind queue = v1::POSTFIX_DEFERRED) {
  v1::Message m;
  m.set_queue_id(id);
  m.set_queue(queue);
  m.mutable_arrival_time()->set_seconds(seconds);
  return m;
}

// Lists as the real agent does: in (arrival, id, source) order, resuming
// after the cursor its page token carries.
class CursorAgent final : public v1::AgentService::CallbackService {
 public:
  explicit CursorAgent(std::vector<v1::Message> messages) : messages_(std::move(messages)) {
    std::sort(messages_.begin(), messages_.end(), [](const v1::Message& a, const v1::Message& b) {
      return Key(a) < Key(b);
    });
  }
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* context,
                                 const v1::ListRequest* request,
                                 v1::ListResponse* response) override {
    auto* reactor = context->DefaultReactor();
    size_t start = 0;
    if (!request->page_token().empty()) {
      std::string raw;
      absl::WebSafeBase64Unescape(request->page_token(), &raw);
      std::vector<std::string> parts = absl::StrSplit(raw, absl::MaxSplits(':', 2));
      int64_t us = 0;
      if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &us)) {
        reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad token"));
        return reactor;
      }
      const auto after = std::make_tuple(us, parts[2], parts[1] == "m" ? 1 : 0);
      while (start < messages_.size() && Key(messages_[start]) <= after) ++start;
    }
    size_t end = std::min(messages_.size(), start + request->page_size());
    for (size_t i = start; i < end; ++i) *response->add_messages() = messages_[i];
    if (end < messages_.size()) {
      const v1::Message& last = messages_[end - 1];
      response->set_next_page_token(EncodePageToken(
          {last.arrival_time().seconds() * 1000000, last.queue_id(), QueueSource::kPostfix}));
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  static std::tuple<int64_t, std::string, int> Key(const v1::Message& m) {
    return {m.arrival_time().seconds() * 1000000, m.queue_id(), m.queue() >= 10 ? 1 : 0};
  }
  std::vector<v1::Message> messages_;
};

class FleetQueriesTest : public FleetFixture {
 protected:
  grpc::Status List(const v1::FleetListRequest& request, v1::FleetListResponse* out) {
    grpc::ClientContext ctx;
    return stub_->List(&ctx, request, out);
  }
  grpc::Status Summary(const v1::FleetSummaryRequest& request, v1::FleetSummaryResponse* out) {
    grpc::ClientContext ctx;
    return stub_->Summary(&ctx, request, out);
  }
};

TEST_F(FleetQueriesTest, ListMergesThreeGatewaysInOrderTaggedAndReportsTheDeadOne) {
  agent(0).SetMessages({At("AAAAAA1", 100), At("AAAAAA2", 300)});
  agent(1).SetMessages({At("BBBBBB1", 200), At("AAAAAA0", 300)});
  agent(2).SetMessages({At("CCCCCC1", 100, v1::MPA_ERROR)});
  v1::FleetListRequest request;
  *request.mutable_selector() = All();
  v1::FleetListResponse resp;
  ASSERT_TRUE(List(request, &resp).ok());
  std::vector<std::string> seen;
  for (const v1::Message& m : resp.messages()) seen.push_back(m.gateway() + "/" + m.queue_id());
  EXPECT_THAT(seen, ElementsAre("gw-a/AAAAAA1", "gw-c/CCCCCC1", "gw-b/BBBBBB1",
                                "gw-a/AAAAAA2", "gw-b/AAAAAA0"));
  EXPECT_EQ(resp.gateways_asked(), 4);
  ASSERT_EQ(resp.failures_size(), 1);
  EXPECT_EQ(resp.failures(0).gateway(), "gw-down");
  EXPECT_THAT(resp.failures(0).error(), HasSubstr("127.0.0.1:1"));
  // Another page would only ask gw-down again: the listing ends, with it
  // among the failures.
  EXPECT_TRUE(resp.next_page_token().empty());
}

TEST_F(FleetQueriesTest, ListRefusesBadFilterTokenAndPageSizeBeforeAnyCall) {
  v1::FleetListRequest bad_filter;
  bad_filter.mutable_filter()->set_pattern("(");
  bad_filter.mutable_filter()->set_regex(true);
  v1::FleetListRequest bad_token;
  bad_token.set_page_token("not a token!");
  v1::FleetListRequest bad_size;
  bad_size.set_page_size(10001);
  for (const auto* request : {&bad_filter, &bad_token, &bad_size}) {
    v1::FleetListResponse resp;
    EXPECT_EQ(List(*request, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(agent(i).list_requests().empty());
}

// Lists three gateways of `count` (+0, +1, +2) messages each, gateway g's
// arrivals starting g * `offset` seconds in, page by page to the end, and
// checks that the pages hold each message once, in one order across pages.
void ExpectPagesToTheEnd(int count, int offset, int page_size) {
  std::vector<std::unique_ptr<CursorAgent>> agents;
  std::vector<std::unique_ptr<grpc::Server>> servers;
  std::vector<Gateway> gateways;
  std::set<std::string> expected;
  for (int g = 0; g < 3; ++g) {
    std::vector<v1::Message> messages;
    for (int i = 0; i < count + g; ++i) {
      // Arrivals interleave across gateways and collide at times.
      messages.push_back(
          At(absl::StrFormat("%06X%d", 0xA00000 + i, g), g * offset + (i * (g + 2)) % 23));
      expected.insert(absl::StrCat("gw-", g, "/", messages.back().queue_id()));
    }
    agents.push_back(std::make_unique<CursorAgent>(messages));
    int port = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(agents.back().get());
    servers.push_back(builder.BuildAndStart());
    gateways.push_back({absl::StrCat("gw-", g), absl::StrCat("127.0.0.1:", port), {}});
  }
  Fleet fleet(FastOptions());
  fleet.Apply(gateways);
  ControllerServiceImpl service(&fleet, nullptr);
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  auto stub = v1::ControllerService::NewStub(server->InProcessChannel({}));

  v1::FleetListRequest request;
  request.mutable_selector()->set_all(true);
  request.set_page_size(page_size);
  std::vector<std::string> listed;
  std::tuple<int64_t, std::string, std::string> previous;
  int pages = 0;
  do {
    grpc::ClientContext ctx;
    v1::FleetListResponse resp;
    ASSERT_TRUE(stub->List(&ctx, request, &resp).ok());
    EXPECT_LE(resp.messages_size(), page_size);
    EXPECT_TRUE(resp.failures().empty());
    for (const v1::Message& m : resp.messages()) {
      auto key = std::make_tuple(m.arrival_time().seconds(), m.gateway(), m.queue_id());
      EXPECT_LT(previous, key);  // one order across pages
      previous = key;
      listed.push_back(m.gateway() + "/" + m.queue_id());
    }
    request.set_page_token(resp.next_page_token());
    ASSERT_LT(++pages, 3 * (count + 2));
  } while (!request.page_token().empty());
  EXPECT_EQ(listed.size(), expected.size());
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), expected);
  server->Shutdown();
  for (auto& s : servers) s->Shutdown();
}

TEST(FleetListPagingTest, PagesAcrossGatewaysToTheEndWithNothingLostOrRepeated) {
  ExpectPagesToTheEnd(17, 0, 7);
}

// Pages of 10000 from three gateways ask each for fewer (the page's memory
// budget): gw-0, whose mail is all older, sends only part of it, and that
// part bounds what the page may take, or gw-1's that came after would be
// listed before the rest of gw-0's.
TEST(FleetListPagingTest, GatewaysAskedForLessThanAPageStillListInOrder) {
  ExpectPagesToTheEnd(7000, 100, 10000);
}

TEST_F(FleetQueriesTest, UnfilteredSummaryTotalsSyncedGatewaysWithoutAskingAgents) {
  AwaitSettled();
  v1::FleetSummaryRequest request;
  v1::FleetSummaryResponse resp;
  ASSERT_TRUE(Summary(request, &resp).ok());
  EXPECT_EQ(resp.total().total_messages(), 10 + 20 + 30);
  EXPECT_EQ(resp.gateways_size(), 4);
  ASSERT_EQ(resp.failures_size(), 1);
  EXPECT_EQ(resp.failures(0).gateway(), "gw-down");
  EXPECT_EQ(resp.failures(0).code(), static_cast<int>(grpc::StatusCode::UNAVAILABLE));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(agent(i).summary_requests().empty());
}

TEST_F(FleetQueriesTest, FilteredSummaryAsksEachSelectedAgent) {
  for (int i = 0; i < 3; ++i) {
    v1::SummaryResponse answer;
    answer.mutable_summary()->set_total_messages(i + 1);
    agent(i).SetSummary(answer);
  }
  v1::FleetSummaryRequest request;
  *request.mutable_selector() = Labels("site=ams");
  request.mutable_filter()->set_pattern("example");
  v1::FleetSummaryResponse resp;
  ASSERT_TRUE(Summary(request, &resp).ok());
  EXPECT_EQ(resp.total().total_messages(), 1 + 2 + 3);
  EXPECT_TRUE(resp.failures().empty());
  ASSERT_EQ(resp.gateways_size(), 3);
  EXPECT_EQ(resp.gateways(1).summary().total_messages(), 2);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(agent(i).summary_requests().size(), 1u);
    EXPECT_EQ(agent(i).summary_requests()[0].filter().pattern(), "example");
  }
}

TEST_F(FleetQueriesTest, GetMessageForwardsEnvelopeAndContentFromTheNamedGateway) {
  agent(1).SetMessages({At("BBBBBB1", 200)});
  agent(1).SetChunkSize(4);
  agent(1).SetContent("BBBBBB1", "Subject: hello\r\n\r\nbody\r\n");
  v1::FleetGetMessageRequest request;
  request.set_gateway("gw-b");
  request.mutable_request()->set_queue_id("BBBBBB1");
  grpc::ClientContext ctx;
  auto reader = stub_->GetMessage(&ctx, request);
  v1::GetMessageResponse part;
  std::string content;
  int parts = 0;
  ASSERT_TRUE(reader->Read(&part));
  EXPECT_EQ(part.envelope().gateway(), "gw-b");
  EXPECT_EQ(part.envelope().queue_id(), "BBBBBB1");
  while (reader->Read(&part)) {
    content += part.content();
    ++parts;
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(content, "Subject: hello\r\n\r\nbody\r\n");
  EXPECT_GT(parts, 1);

  request.set_gateway("gw-nowhere");
  grpc::ClientContext ctx2;
  auto missing = stub_->GetMessage(&ctx2, request);
  while (missing->Read(&part)) {
  }
  EXPECT_EQ(missing->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
  request.set_gateway("gw-a");  // the agent's own NOT_FOUND passes through
  grpc::ClientContext ctx3;
  auto absent = stub_->GetMessage(&ctx3, request);
  while (absent->Read(&part)) {
  }
  const grpc::Status not_there = absent->Finish();
  EXPECT_EQ(not_there.error_code(), grpc::StatusCode::NOT_FOUND);
  // Named, so that the client does not take it for the controller's own.
  EXPECT_THAT(not_there.error_message(), ::testing::StartsWith("gateway gw-a (127.0.0.1:"));
  request.set_gateway("gw-down");
  grpc::ClientContext ctx4;
  auto down = stub_->GetMessage(&ctx4, request);
  while (down->Read(&part)) {
  }
  const grpc::Status unreachable = down->Finish();
  EXPECT_EQ(unreachable.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(unreachable.error_message(), HasSubstr("gateway gw-down (127.0.0.1:1)"));
}

}  // namespace
}  // namespace mailfleet::controller
