// Act and Flush over in-process gRPC on fake agents: one streamed result
// per gateway, failures as rows, requests refused whole before any call.
#include <atomic>
#include <set>
#include <thread>

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
TEST_F(FleetActionsTest, ShuttingDownCancelsTheCallsToAHungAgent) {
  agent(1).SetHangActions(true);
  v1::FleetActRequest request = HoldIds(Names({"gw-a", "gw-b"}));
  std::vector<v1::GatewayActResult> results;
  grpc::Status status;
  std::thread act([&] { status = Act(request, &results); });
  // gw-a answers; gw-b hangs until the controller gives up on it.
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while ((agent(0).act_requests().empty() || agent(1).act_requests().empty()) &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  // gw-a's answer is on its way back: let it arrive before the cancel,
  // which would otherwise catch it too.
  absl::SleepFor(absl::Milliseconds(300));
  const absl::Time cancelled = absl::Now();
  service_.CancelCalls();
  act.join();
  EXPECT_LT(absl::Now() - cancelled, absl::Seconds(5));
  agent(1).ReleaseHungCalls();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(results.size(), 2u);
  for (const v1::GatewayActResult& r : results) {
    if (r.gateway() == "gw-b") {
      ASSERT_TRUE(r.has_failure());
      EXPECT_EQ(r.failure().code(), static_cast<int>(grpc::StatusCode::CANCELLED));
    } else {
      EXPECT_FALSE(r.has_failure()) << r.failure().error();
    }
  }
}

TEST_F(FleetActionsTest, NoGatewayIsAskedToWaitPastTheRequestsDeadline) {
  agent(0).SetHangActions(true);
  v1::FleetActRequest request = HoldIds(Names({"gw-a"}));
  request.mutable_timeout()->set_seconds(600);  // longer than the caller waits
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  auto reader = stub_->Act(&ctx, request);
  v1::GatewayActResult r;
  while (reader->Read(&r)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The agent's call had the caller's deadline, not ten minutes: it is over,
  // so nothing holds the server's Shutdown while the agent still hangs.
  std::atomic<bool> shut{false};
  std::thread shutdown([&] {
    server_->Shutdown();
    shut = true;
  });
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (!shut && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
  const bool prompt = shut;
  agent(0).ReleaseHungCalls();
  shutdown.join();
  EXPECT_TRUE(prompt) << "the agent's call outlived the request";
  EXPECT_EQ(agent(0).act_requests().size(), 1u);
}

TEST_F(FleetActionsTest, RefusesATimeoutLongerThanAnHour) {
  v1::FleetActRequest request = HoldIds(All());
  request.mutable_timeout()->set_seconds(2 * 3600);
  std::vector<v1::GatewayActResult> results;
  const grpc::Status status = Act(request, &results);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("longer than 1h"));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(agent(i).act_requests().empty());
}

}  // namespace mailfleet::controller
