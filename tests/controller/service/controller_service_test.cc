// ListGateways over in-process gRPC, on a fleet of fake agents (one of them
// down): what the controller says of each gateway, and how it selects.
#include "controller/service/controller_service.h"

#include <grpcpp/grpcpp.h>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/controller/fleet/link_test_support.h"

namespace mailfleet::controller {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ControllerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    v1::QueueSummary busy;
    busy.set_total_messages(42);
    ASSERT_TRUE(ams_.Start({Snapshot("ams-1", 7, busy)}));
    ASSERT_TRUE(fra_.Start({Snapshot("fra-1", 3, v1::QueueSummary())}));
    fleet_.Apply({{"gw-ams", ams_.address(), {{"site", "ams"}, {"env", "prod"}}},
                  {"gw-fra", fra_.address(), {{"site", "fra"}, {"env", "prod"}}},
                  // Nothing listens on port 1.
                  {"gw-down", "127.0.0.1:1", {{"site", "fra"}, {"env", "test"}}}});
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = v1::ControllerService::NewStub(server_->InProcessChannel({}));
  }
  void TearDown() override { server_->Shutdown(); }

  grpc::Status List(const v1::GatewaySelector& selector, v1::ListGatewaysResponse* out) {
    grpc::ClientContext ctx;
    v1::ListGatewaysRequest req;
    *req.mutable_selector() = selector;
    return stub_->ListGateways(&ctx, req, out);
  }

  // Polls until every gateway has left kConnecting.
  v1::ListGatewaysResponse Settled() {
    const absl::Time deadline = absl::Now() + kPatience;
    v1::ListGatewaysResponse resp;
    do {
      resp.Clear();
      EXPECT_TRUE(List({}, &resp).ok());
      bool settled = resp.gateways_size() == 3;
      for (const v1::Gateway& g : resp.gateways()) {
        settled = settled && (g.state() == v1::GATEWAY_UNREACHABLE ||
                              (g.state() == v1::GATEWAY_CONNECTED && g.synced()));
      }
      if (settled) return resp;
      absl::SleepFor(absl::Milliseconds(10));
    } while (absl::Now() < deadline);
    ADD_FAILURE() << "the fleet never settled: " << resp.DebugString();
    return resp;
  }

  RestartableAgent ams_, fra_;
  Fleet fleet_{FastOptions()};
  ControllerServiceImpl service_{&fleet_, nullptr};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ControllerService::Stub> stub_;
};

TEST_F(ControllerServiceTest, ListsEveryGatewayInFileOrderWithItsStateAndSummary) {
  const v1::ListGatewaysResponse resp = Settled();
  ASSERT_EQ(resp.gateways_size(), 3);
  const v1::Gateway& ams = resp.gateways(0);
  EXPECT_EQ(ams.name(), "gw-ams");
  EXPECT_EQ(ams.address(), ams_.address());
  EXPECT_EQ(ams.labels().at("site"), "ams");
  EXPECT_EQ(ams.state(), v1::GATEWAY_CONNECTED);
  EXPECT_EQ(ams.summary().total_messages(), 42);
  EXPECT_EQ(ams.agent().instance_id(), "ams-1");
  EXPECT_TRUE(ams.has_last_heard());
  EXPECT_EQ(resp.gateways(1).name(), "gw-fra");
  const v1::Gateway& down = resp.gateways(2);
  EXPECT_EQ(down.state(), v1::GATEWAY_UNREACHABLE);
  EXPECT_THAT(down.last_error(), HasSubstr("127.0.0.1:1"));
  EXPECT_FALSE(down.has_last_heard());
}

TEST_F(ControllerServiceTest, SelectsByNameOrLabelsAndRefusesWhatItCannotSelect) {
  v1::GatewaySelector selector;
  selector.set_label_selector("site=fra,env!=test");
  v1::ListGatewaysResponse resp;
  ASSERT_TRUE(List(selector, &resp).ok());
  ASSERT_EQ(resp.gateways_size(), 1);
  EXPECT_EQ(resp.gateways(0).name(), "gw-fra");

  selector.Clear();
  selector.add_names("gw-down");
  selector.add_names("gw-ams");
  resp.Clear();
  ASSERT_TRUE(List(selector, &resp).ok());
  std::vector<std::string> names;
  for (const v1::Gateway& g : resp.gateways()) names.push_back(g.name());
  EXPECT_THAT(names, ElementsAre("gw-ams", "gw-down"));  // file order

  selector.add_names("gw-nowhere");
  grpc::Status s = List(selector, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("gw-nowhere"));

  selector.Clear();
  selector.set_label_selector("a=b=c");
  s = List(selector, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  selector.add_names("gw-ams");  // two ways of selecting at once
  selector.set_label_selector("site=ams");
  EXPECT_EQ(List(selector, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace mailfleet::controller
