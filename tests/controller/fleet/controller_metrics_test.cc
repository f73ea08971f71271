// The controller's metrics as a scrape computes them from the fleet view:
// one gateway connected to a fake agent, one whose agent is not there.
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "controller/fleet/fleet.h"
#include "controller/metrics/controller_metrics.h"
#include "gtest/gtest.h"
#include "tests/testing/metric_samples.h"
#include "tests/controller/fleet/link_test_support.h"

namespace mailfleet::controller {
namespace {

using ::mailfleet::testing::Samples;

TEST(ControllerMetricsTest, GatewayStatesAndTheQueuesTheirAgentsReported) {
  v1::QueueSummary summary;
  v1::QueueStats* deferred = summary.add_queues();
  deferred->set_queue(v1::POSTFIX_DEFERRED);
  deferred->set_messages(17);
  deferred->set_bytes(170000);
  v1::QueueStats* hold = summary.add_queues();
  hold->set_queue(v1::POSTFIX_HOLD);
  hold->set_messages(2);
  hold->set_bytes(9000);
  RestartableAgent agent;
  ASSERT_TRUE(agent.Start({Snapshot("a", 1, summary)}));
  // Nothing listens on a port that was just closed.
  RestartableAgent gone;
  ASSERT_TRUE(gone.Start({}));
  const std::string gone_address = gone.address();
  gone.Kill();

  ChangeLog log;
  Fleet fleet(FastOptions(), log.Callback());
  fleet.Apply({Gateway{"gw-a", agent.address(), {}}, Gateway{"gw-b", gone_address, {}}});
  ASSERT_GE(log.Await([](const GatewayStatus& s) {
              return s.name == "gw-a" && s.state == GatewayState::kConnected;
            }),
            0);
  ASSERT_GE(log.Await([](const GatewayStatus& s) {
              return s.name == "gw-b" && s.state == GatewayState::kUnreachable;
            }),
            0);

  ControllerMetrics metrics(&fleet);
  std::map<std::string, double> s = Samples(metrics.Collect());
  EXPECT_EQ(s["mailfleet_controller_gateways{state=connected}"], 1);
  EXPECT_EQ(s["mailfleet_controller_gateways{state=unreachable}"], 1);
  EXPECT_EQ(s["mailfleet_controller_gateways{state=connecting}"], 0);
  EXPECT_EQ(s["mailfleet_controller_gateways{state=stale}"], 0);
  EXPECT_EQ(s["mailfleet_controller_gateway_up{gateway=gw-a}"], 1);
  EXPECT_EQ(s.count("mailfleet_controller_gateway_up{gateway=gw-b}"), 1u);
  EXPECT_EQ(s["mailfleet_controller_gateway_up{gateway=gw-b}"], 0);
  EXPECT_EQ(s["mailfleet_controller_gateway_queue_messages{gateway=gw-a,queue=deferred}"], 17);
  EXPECT_EQ(s["mailfleet_controller_gateway_queue_bytes{gateway=gw-a,queue=deferred}"], 170000);
  EXPECT_EQ(s["mailfleet_controller_gateway_queue_messages{gateway=gw-a,queue=hold}"], 2);
  // An unreachable gateway's last figures would look current.
  for (const auto& [key, value] : s) {
    if (key.find("queue_") != std::string::npos) {
      EXPECT_EQ(key.find("gw-b"), std::string::npos) << key;
    }
  }
}

}  // namespace
}  // namespace mailfleet::controller
