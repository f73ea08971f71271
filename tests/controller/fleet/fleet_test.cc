#include "controller/fleet/fleet.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "controller/config/label_selector.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/controller/fleet/link_test_support.h"

namespace mailfleet::controller {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Connected to the agent whose snapshot says `instance`.
ChangeLog::Predicate ConnectedTo(const std::string& name,
                                 const std::string& instance) {
  return [name, instance](const GatewayStatus& status) {
    return status.name == name && status.state == GatewayState::kConnected &&
           status.instance_id == instance;
  };
}

std::vector<std::string> NamesOf(const std::vector<GatewayView>& views) {
  std::vector<std::string> names;
  for (const GatewayView& view : views) names.push_back(view.config.name);
  return names;
}

std::vector<std::string> NamesOf(const std::vector<Gateway>& gateways) {
  std::vector<std::string> names;
  for (const Gateway& gateway : gateways) names.push_back(gateway.name);
  return names;
}

// Agents "a" to "e" on loopback, each serving a snapshot of instance
// "a".."e", and a fleet whose changes go to `log_`.
class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* instance : {"a", "b", "c", "d", "e"}) {
      auto agent = std::make_unique<RestartableAgent>();
      ASSERT_TRUE(agent->Start({Snapshot(instance, 1, v1::QueueSummary())}));
      agents_.push_back(std::move(agent));
    }
    fleet_ = std::make_unique<Fleet>(FastOptions(), log_.Callback());
  }

  // agent(0) is "a", and so on.
  RestartableAgent& agent(int i) { return *agents_[i]; }

  Gateway At(const std::string& name, int agent_index, Labels labels = {}) {
    return Gateway{name, agent(agent_index).address(), std::move(labels)};
  }

  std::vector<Gateway> ThreeGateways() {
    return {At("gw-a", 0, {{"site", "ams"}, {"env", "prod"}}),
            At("gw-b", 1, {{"site", "fra"}}),
            At("gw-c", 2, {{"site", "ams"}, {"env", "test"}})};
  }

  // Applies ThreeGateways() and waits until all three are connected.
  void StartThree() {
    fleet_->Apply(ThreeGateways());
    ASSERT_GE(log_.Await(ConnectedTo("gw-a", "a")), 0);
    ASSERT_GE(log_.Await(ConnectedTo("gw-b", "b")), 0);
    ASSERT_GE(log_.Await(ConnectedTo("gw-c", "c")), 0);
  }

  std::vector<std::unique_ptr<RestartableAgent>> agents_;
  ChangeLog log_;
  std::unique_ptr<Fleet> fleet_;  // Last, so stopped first.
};

TEST_F(FleetTest, FirstApplyStartsALinkPerGatewayAndAllConnect) {
  const GatewayChanges changes = fleet_->Apply(ThreeGateways());
  EXPECT_THAT(NamesOf(changes.added), ElementsAre("gw-a", "gw-b", "gw-c"));
  EXPECT_TRUE(changes.removed.empty());
  EXPECT_TRUE(changes.changed.empty());
  ASSERT_GE(log_.Await(ConnectedTo("gw-a", "a")), 0);
  ASSERT_GE(log_.Await(ConnectedTo("gw-b", "b")), 0);
  ASSERT_GE(log_.Await(ConnectedTo("gw-c", "c")), 0);

  const std::vector<GatewayView> views = fleet_->Gateways();
  EXPECT_THAT(NamesOf(views), ElementsAre("gw-a", "gw-b", "gw-c"));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(views[i].config, ThreeGateways()[i]);
    EXPECT_EQ(views[i].status.name, views[i].config.name);
    EXPECT_EQ(views[i].status.address, agent(i).address());
    EXPECT_EQ(views[i].status.state, GatewayState::kConnected);
    EXPECT_TRUE(views[i].status.synced);
  }
  EXPECT_EQ(views[0].config.labels.at("env"), "prod");

  // The same file again changes nothing and opens no stream.
  EXPECT_TRUE(fleet_->Apply(ThreeGateways()).empty());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(agent(i).service().watch_requests().size(), 1u);
  }
}

TEST_F(FleetTest, ReloadAddsRemovesRelabelsAndReaddressesExactlyAsChanged) {
  StartThree();
  const GatewayStatus b_before = fleet_->Gateways()[1].status;

  // gw-a goes, gw-d comes, gw-b is relabelled, gw-c moves to agent "e".
  const std::vector<Gateway> reloaded = {
      At("gw-d", 3), At("gw-c", 4, {{"site", "ams"}, {"env", "test"}}),
      At("gw-b", 1, {{"site", "fra"}, {"env", "prod"}})};
  const GatewayChanges changes = fleet_->Apply(reloaded);
  EXPECT_THAT(NamesOf(changes.added), ElementsAre("gw-d"));
  EXPECT_THAT(NamesOf(changes.removed), ElementsAre("gw-a"));
  EXPECT_THAT(NamesOf(changes.changed), ElementsAre("gw-c", "gw-b"));

  // The removed and the moved gateways' streams were cancelled before
  // Apply returned.
  EXPECT_TRUE(agent(0).service().AwaitWatchesCancelled(1, kPatience));
  EXPECT_TRUE(agent(2).service().AwaitWatchesCancelled(1, kPatience));
  ASSERT_GE(log_.Await(ConnectedTo("gw-d", "d")), 0);
  ASSERT_GE(log_.Await(ConnectedTo("gw-c", "e")), 0);

  const std::vector<GatewayView> views = fleet_->Gateways();
  EXPECT_THAT(NamesOf(views), ElementsAre("gw-d", "gw-c", "gw-b"));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(views[i].config, reloaded[i]);
  EXPECT_EQ(views[1].status.address, agent(4).address());
  EXPECT_EQ(views[1].status.reconnects, 0);  // A new link, not a reconnect.

  // gw-b kept its link: the same stream, never reopened.
  const GatewayStatus& b_after = views[2].status;
  EXPECT_EQ(b_after.state, GatewayState::kConnected);
  EXPECT_EQ(b_after.instance_id, b_before.instance_id);
  EXPECT_EQ(b_after.reconnects, b_before.reconnects);
  EXPECT_EQ(b_after.last_heard, b_before.last_heard);
  EXPECT_EQ(agent(1).service().watch_requests().size(), 1u);
  EXPECT_EQ(agent(1).service().open_watches(), 1);
  EXPECT_FALSE(
      agent(1).service().AwaitWatchesCancelled(1, absl::ZeroDuration()));
  // And nothing more is heard from the gone ones' agents.
  EXPECT_EQ(agent(0).service().open_watches(), 0);
  EXPECT_EQ(agent(2).service().open_watches(), 0);
}

TEST_F(FleetTest, SelectsByNamesSelectorOrAllInFileOrder) {
  StartThree();

  absl::StatusOr<std::vector<GatewayView>> named =
      fleet_->Select({"gw-c", "gw-a"}, std::nullopt, false);
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_THAT(NamesOf(*named), ElementsAre("gw-a", "gw-c"));
  EXPECT_EQ((*named)[1].status.instance_id, "c");
  EXPECT_EQ((*named)[1].config.labels.at("env"), "test");

  absl::StatusOr<LabelSelector> ams =
      LabelSelector::Parse("site=ams,env!=test");
  ASSERT_TRUE(ams.ok());
  absl::StatusOr<std::vector<GatewayView>> selected =
      fleet_->Select({}, *ams, false);
  ASSERT_TRUE(selected.ok()) << selected.status();
  EXPECT_THAT(NamesOf(*selected), ElementsAre("gw-a"));

  absl::StatusOr<std::vector<GatewayView>> all =
      fleet_->Select({}, std::nullopt, true);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(NamesOf(*all), ElementsAre("gw-a", "gw-b", "gw-c"));

  absl::StatusOr<std::vector<GatewayView>> unknown =
      fleet_->Select({"gw-a", "gw-x"}, std::nullopt, false);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(), HasSubstr("gw-x"));

  EXPECT_EQ(fleet_->Select({}, std::nullopt, false).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(FleetTest, RemovedGatewayCannotBeSelected) {
  StartThree();
  fleet_->Apply({At("gw-b", 1)});
  EXPECT_EQ(fleet_->Select({"gw-a"}, std::nullopt, false).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(NamesOf(fleet_->Gateways()), ElementsAre("gw-b"));
}

TEST_F(FleetTest, DestructionStopsEveryLinkPromptly) {
  StartThree();

  const absl::Time stopping = absl::Now();
  fleet_.reset();
  EXPECT_LT(absl::Now() - stopping, absl::Seconds(1));
  log_.Close();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(agent(i).service().AwaitWatchesCancelled(1, kPatience));
  }
  EXPECT_FALSE(log_.late());
}

}  // namespace
}  // namespace mailfleet::controller
