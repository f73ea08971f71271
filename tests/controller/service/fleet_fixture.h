// A controller service in-process over a fleet of three fake agents on
// loopback ports (gw-a, gw-b, gw-c, all site=ams) and one gateway nobody
// answers for (gw-down, site=fra): the fixture of the fanned-out RPCs'
// tests.
#ifndef MAILFLEET_TESTS_CONTROLLER_SERVICE_FLEET_FIXTURE_H_
#define MAILFLEET_TESTS_CONTROLLER_SERVICE_FLEET_FIXTURE_H_

#include <grpcpp/grpcpp.h>

#include <array>
#include <initializer_list>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "controller/service/controller_service.h"
#include "gtest/gtest.h"
#include "tests/controller/fleet/link_test_support.h"

namespace mailfleet::controller {

class FleetFixture : public ::testing::Test {
 protected:
  static constexpr std::array<const char*, 3> kNames = {"gw-a", "gw-b", "gw-c"};

  void SetUp() override {
    for (int i = 0; i < 3; ++i) {
      v1::QueueSummary summary;
      summary.set_total_messages(10 * (i + 1));
      ASSERT_TRUE(agents_[i].Start({Snapshot(kNames[i], 1, summary)}));
    }
    fleet_.Apply({{"gw-a", agents_[0].address(), {{"site", "ams"}}},
                  {"gw-b", agents_[1].address(), {{"site", "ams"}}},
                  {"gw-c", agents_[2].address(), {{"site", "ams"}}},
                  {"gw-down", "127.0.0.1:1", {{"site", "fra"}}}});
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = v1::ControllerService::NewStub(server_->InProcessChannel({}));
  }
  void TearDown() override {
    for (auto& agent : agents_) agent.Kill();
    server_->Shutdown();
  }

  ::mailfleet::testing::FakeAgentService& agent(int i) { return agents_[i].service(); }

  // Waits until the three live gateways are synced and gw-down unreachable.
  void AwaitSettled() {
    const absl::Time deadline = absl::Now() + kPatience;
    while (absl::Now() < deadline) {
      int settled = 0;
      for (const GatewayView& v : fleet_.Gateways()) {
        settled += v.status.synced || v.status.state == GatewayState::kUnreachable;
      }
      if (settled == 4) return;
      absl::SleepFor(absl::Milliseconds(10));
    }
    ADD_FAILURE() << "the fleet never settled";
  }

  static v1::GatewaySelector All() {
    v1::GatewaySelector s;
    s.set_all(true);
    return s;
  }
  static v1::GatewaySelector Names(std::initializer_list<const char*> names) {
    v1::GatewaySelector s;
    for (const char* name : names) s.add_names(name);
    return s;
  }
  static v1::GatewaySelector Labels(const std::string& selector) {
    v1::GatewaySelector s;
    s.set_label_selector(selector);
    return s;
  }

  RestartableAgent agents_[3];
  Fleet fleet_{FastOptions()};
  ControllerServiceImpl service_{&fleet_, nullptr};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ControllerService::Stub> stub_;
};

}  // namespace mailfleet::controller

#endif  // MAILFLEET_TESTS_CONTROLLER_SERVICE_FLEET_FIXTURE_H_
