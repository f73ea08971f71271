// Act and Flush over in-process gRPC on fake agents: one streamed result
// per gateway, failures as rows, requests refused whole before any call.
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/controller/service/fleet_fixture.h"

namespace mailfleet::controller {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class FleetActionsTest : public FleetFixture {
 protected:
  grpc::Status Act(const v1::FleetActRequest& request,
                   std::vector<v1::GatewayActResult>* results) {
    grpc::ClientContext ctx;
    auto reader = stub_->Act(&ctx, request);
    v1::GatewayActResult r;
    while (reader->Read(&r)) results->push_back(r);
    return reader->Finish();
  }
};

v1::FleetActRequest HoldIds(v1::GatewaySelector selector) {
  v1::FleetActRequest request;
  *request.mutable_selector() = std::move(selector);
  request.mutable_request()->set_action(v1::ACTION_HOLD);
  request.mutable_request()->mutable_selector()->add_queue_ids("ABCDEF123");
  return request;
}

TEST_F(FleetActionsTest, StreamsOneResultPerGatewayWithTheDeadOneFailed) {
  v1::FleetActRequest request = HoldIds(All());
  request.mutable_request()->set_dry_run(true);
  request.mutable_timeout()->set_seconds(5);
  std::vector<v1::GatewayActResult> results;
  ASSERT_TRUE(Act(request, &results).ok());
  ASSERT_EQ(results.size(), 4u);
  std::set<std::string> ok, failed;
  for (const v1::GatewayActResult& r : results) {
    EXPECT_TRUE(r.has_elapsed());
    if (r.has_failure()) {
      failed.insert(r.gateway());
      EXPECT_EQ(r.failure().code(), static_cast<int>(grpc::StatusCode::UNAVAILABLE));
      EXPECT_THAT(r.failure().error(), HasSubstr("127.0.0.1:1"));
      EXPECT_FALSE(r.has_response());
    } else {
      ok.insert(r.gateway());
      EXPECT_TRUE(r.response().dry_run());
    }
  }
  EXPECT_THAT(ok, UnorderedElementsAre("gw-a", "gw-b", "gw-c"));
  EXPECT_THAT(failed, UnorderedElementsAre("gw-down"));
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(agent(i).act_requests().size(), 1u);
    EXPECT_TRUE(agent(i).act_requests()[0].dry_run());  // passed through
    EXPECT_EQ(agent(i).act_requests()[0].selector().queue_ids(0), "ABCDEF123");
  }
}

TEST_F(FleetActionsTest, RefusesAnInvalidActionWholeWithoutCallingAnyAgent) {
  std::vector<v1::FleetActRequest> bad;
  bad.push_back(HoldIds(All()));
  bad.back().mutable_request()->mutable_selector()->set_queue_ids(0, "../etc");
  bad.push_back(HoldIds(All()));
  bad.back().mutable_request()->set_action(v1::ACTION_UNSPECIFIED);
  bad.push_back(HoldIds(v1::GatewaySelector()));  // no gateways selected
  bad.push_back(HoldIds(All()));
  bad.back().mutable_request()->mutable_selector()->clear_queue_ids();  // nothing
  bad.push_back(HoldIds(All()));
  bad.back().mutable_request()->mutable_selector()->clear_queue_ids();
  bad.back().mutable_request()->mutable_selector()->mutable_filter()->set_pattern("(");
  bad.back().mutable_request()->mutable_selector()->mutable_filter()->set_regex(true);
  for (const v1::FleetActRequest& request : bad) {
    std::vector<v1::GatewayActResult> results;
    EXPECT_EQ(Act(request, &results).error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << request.DebugString();
    EXPECT_TRUE(results.empty());
  }
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(agent(i).act_requests().empty());
}

TEST_F(FleetActionsTest, FlushesTheSelectedGatewaysAndRefusesTwoTargets) {
  v1::FleetFlushRequest request;
  *request.mutable_selector() = Labels("site=ams");
  request.mutable_request()->set_all(true);
  grpc::ClientContext ctx;
  auto reader = stub_->Flush(&ctx, request);
  std::set<std::string> gateways;
  v1::GatewayFlushResult r;
  while (reader->Read(&r)) {
    EXPECT_FALSE(r.has_failure()) << r.DebugString();
    gateways.insert(r.gateway());
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_THAT(gateways, UnorderedElementsAre("gw-a", "gw-b", "gw-c"));

  request.mutable_request()->set_site("example.com");
  grpc::ClientContext ctx2;
  auto refused = stub_->Flush(&ctx2, request);
  while (refused->Read(&r)) {
  }
  EXPECT_EQ(refused->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(agent(i).flush_requests().size(), 1u);
}

}  // namespace
}  // namespace mailfleet::controller
