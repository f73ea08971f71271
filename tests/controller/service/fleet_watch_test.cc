// The fleet Watch over in-process gRPC, on fake agents: the snapshot, the
// changes that follow it, selections re-applied on reload, heartbeats, a
// slow reader's coalesced updates, and the end of every stream when the hub
// shuts down.
#include "controller/service/fleet_watch.h"

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "controller/service/controller_service.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/controller/fleet/link_test_support.h"

namespace mailfleet::controller {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using EventPredicate = std::function<bool(const v1::FleetWatchEvent&)>;
using GatewayPredicate = std::function<bool(const v1::Gateway&)>;

absl::Time TimeOf(const v1::FleetWatchEvent& event) {
  return absl::FromUnixSeconds(event.time().seconds()) +
         absl::Nanoseconds(event.time().nanos());
}

EventPredicate IsHeartbeat() {
  return [](const v1::FleetWatchEvent& e) { return e.has_heartbeat(); };
}

EventPredicate IsRemoval(const std::string& name) {
  return [name](const v1::FleetWatchEvent& e) { return e.removed() == name; };
}

EventPredicate IsGateway(const std::string& name, GatewayPredicate wanted) {
  return [name, wanted](const v1::FleetWatchEvent& e) {
    return e.has_gateway() && e.gateway().name() == name && wanted(e.gateway());
  };
}

GatewayPredicate InState(v1::GatewayState state) {
  return [state](const v1::Gateway& g) { return g.state() == state; };
}

GatewayPredicate Connected() {
  return [](const v1::Gateway& g) {
    return g.state() == v1::GATEWAY_CONNECTED && g.synced();
  };
}

std::vector<std::string> NamesIn(const v1::FleetSnapshot& snapshot) {
  std::vector<std::string> names;
  for (const v1::Gateway& g : snapshot.gateways()) names.push_back(g.name());
  return names;
}

v1::FleetWatchRequest WatchAll(absl::Duration heartbeat = absl::ZeroDuration()) {
  v1::FleetWatchRequest request;
  request.mutable_selector()->set_all(true);
  if (heartbeat > absl::ZeroDuration()) {
    request.mutable_heartbeat_interval()->set_seconds(
        absl::ToInt64Seconds(heartbeat));
  }
  return request;
}

// One Watch call, read on a thread of its own: every event it brings, a
// wait for the one wanted, and its end.
class WatchStream {
 public:
  WatchStream(v1::ControllerService::Stub* stub,
              const v1::FleetWatchRequest& request)
      : reader_(stub->Watch(&context_, request)),
        thread_([this] { Run(); }) {}
  ~WatchStream() {
    context_.TryCancel();
    thread_.join();
  }

  // The index of the first event from `from` on that satisfies `wanted`,
  // waiting for it; -1 after kPatience or at the stream's end.
  int Await(const EventPredicate& wanted, int from = 0) {
    absl::MutexLock lock(&mu_);
    int found = -1;
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (int i = from; i < static_cast<int>(events_.size()); ++i) {
        if (wanted(events_[i])) {
          found = i;
          return true;
        }
      }
      return end_.has_value();
    };
    mu_.AwaitWithTimeout(absl::Condition(&seen), kPatience);
    return found;
  }

  // Waits for the snapshot, the first event.
  v1::FleetSnapshot Snapshot() {
    if (Await([](const v1::FleetWatchEvent&) { return true; }) != 0) {
      ADD_FAILURE() << "no snapshot";
      return {};
    }
    const v1::FleetWatchEvent first = event(0);
    EXPECT_TRUE(first.has_snapshot()) << first.DebugString();
    return first.snapshot();
  }

  // The stream's status, waiting for it to end; nullopt after kPatience.
  std::optional<grpc::Status> AwaitEnd() {
    absl::MutexLock lock(&mu_);
    auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return end_.has_value();
    };
    mu_.AwaitWithTimeout(absl::Condition(&ended), kPatience);
    return end_;
  }

  v1::FleetWatchEvent event(int i) const {
    absl::MutexLock lock(&mu_);
    return events_.at(i);
  }
  std::vector<v1::FleetWatchEvent> events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }

 private:
  void Run() {
    v1::FleetWatchEvent event;
    while (reader_->Read(&event)) {
      absl::MutexLock lock(&mu_);
      events_.push_back(std::move(event));
      event.Clear();
    }
    grpc::Status status = reader_->Finish();
    absl::MutexLock lock(&mu_);
    end_ = std::move(status);
  }

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::FleetWatchEvent>> reader_;
  mutable absl::Mutex mu_;
  std::vector<v1::FleetWatchEvent> events_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> end_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// Two agents (gw-ams with 42 messages, gw-fra empty), a fleet that tells
// the hub of every change, and the controller service in-process.
class FleetWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    v1::QueueSummary busy;
    busy.set_total_messages(42);
    ASSERT_TRUE(ams_.Start({Snapshot("ams-1", 7, busy)}));
    ASSERT_TRUE(fra_.Start({Snapshot("fra-1", 3, v1::QueueSummary())}));
    Reload(TwoGateways());
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = v1::ControllerService::NewStub(server_->InProcessChannel({}));
  }
  void TearDown() override {
    hub_.Shutdown();
    server_->Shutdown();
  }

  std::vector<Gateway> TwoGateways() {
    return {{"gw-ams", ams_.address(), {{"site", "ams"}}},
            {"gw-fra", fra_.address(), {{"site", "fra"}}}};
  }

  // As main does on SIGHUP.
  void Reload(const std::vector<Gateway>& gateways) {
    hub_.OnApply(fleet_, fleet_.Apply(gateways));
  }

  // Waits, through a watch of its own, until both gateways are connected.
  void AwaitConnected() {
    WatchStream watch(stub_.get(), WatchAll());
    const v1::FleetSnapshot snapshot = watch.Snapshot();
    for (const char* name : {"gw-ams", "gw-fra"}) {
      const bool in_snapshot = [&] {
        for (const v1::Gateway& g : snapshot.gateways()) {
          if (g.name() == name) return Connected()(g);
        }
        return false;
      }();
      if (!in_snapshot) {
        ASSERT_GE(watch.Await(IsGateway(name, Connected())), 0);
      }
    }
  }

  grpc::Status Refusal(const v1::FleetWatchRequest& request) {
    grpc::ClientContext context;
    auto reader = stub_->Watch(&context, request);
    v1::FleetWatchEvent event;
    EXPECT_FALSE(reader->Read(&event)) << event.DebugString();
    return reader->Finish();
  }

  RestartableAgent ams_, fra_;
  FleetWatchHub hub_;
  Fleet fleet_{FastOptions(), hub_.ChangeCallback()};
  ControllerServiceImpl service_{&fleet_, &hub_};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ControllerService::Stub> stub_;
};

TEST_F(FleetWatchTest, SnapshotFirstThenOnlyTheGatewayWhoseSummaryChanged) {
  AwaitConnected();
  WatchStream watch(stub_.get(), WatchAll());
  const v1::FleetSnapshot snapshot = watch.Snapshot();
  EXPECT_THAT(NamesIn(snapshot), ElementsAre("gw-ams", "gw-fra"));
  ASSERT_EQ(snapshot.gateways_size(), 2);
  EXPECT_EQ(snapshot.gateways(0).state(), v1::GATEWAY_CONNECTED);
  EXPECT_EQ(snapshot.gateways(0).summary().total_messages(), 42);
  EXPECT_EQ(snapshot.gateways(0).address(), ams_.address());
  EXPECT_EQ(snapshot.gateways(0).labels().at("site"), "ams");

  // The agent's stream ends and the next one brings a new summary.
  v1::QueueSummary busier;
  busier.set_total_messages(43);
  ams_.service().SetWatchEvents({Snapshot("ams-1", 8, busier)});
  ams_.service().ReleaseHungCalls();
  const int updated = watch.Await(IsGateway("gw-ams", [](const v1::Gateway& g) {
    return g.state() == v1::GATEWAY_CONNECTED && g.summary().total_messages() == 43;
  }));
  ASSERT_GT(updated, 0);
  EXPECT_EQ(watch.event(updated).gateway().agent().generation(), 8);
  for (const v1::FleetWatchEvent& event : watch.events()) {
    if (event.has_snapshot()) continue;
    EXPECT_TRUE(event.has_gateway()) << event.DebugString();
    EXPECT_EQ(event.gateway().name(), "gw-ams") << event.DebugString();
  }
}

TEST_F(FleetWatchTest, KilledAgentTurnsUnreachableAndConnectedAgainOnRestart) {
  AwaitConnected();
  WatchStream watch(stub_.get(), WatchAll());
  watch.Snapshot();
  ams_.Kill();
  const int down = watch.Await(
      IsGateway("gw-ams", InState(v1::GATEWAY_UNREACHABLE)));
  ASSERT_GT(down, 0);
  EXPECT_THAT(watch.event(down).gateway().last_error(),
              HasSubstr(ams_.address()));

  ASSERT_TRUE(ams_.Start({Snapshot("ams-2", 1, v1::QueueSummary())}));
  const int up = watch.Await(IsGateway("gw-ams", [](const v1::Gateway& g) {
    return g.state() == v1::GATEWAY_CONNECTED && g.agent().instance_id() == "ams-2";
  }), down);
  ASSERT_GT(up, down);
  EXPECT_GE(watch.event(up).gateway().reconnects(), 1);
  EXPECT_EQ(watch.event(up).gateway().summary().total_messages(), 0);
}

TEST_F(FleetWatchTest, LabelSelectorIsMatchedAgainOnReload) {
  AwaitConnected();
  v1::FleetWatchRequest request;
  request.mutable_selector()->set_label_selector("site=ams");
  WatchStream watch(stub_.get(), request);
  EXPECT_THAT(NamesIn(watch.Snapshot()), ElementsAre("gw-ams"));

  // The two swap sites: gw-fra enters the selection, gw-ams leaves it.
  Reload({{"gw-ams", ams_.address(), {{"site", "fra"}}},
          {"gw-fra", fra_.address(), {{"site", "ams"}}}});
  const int left = watch.Await(IsRemoval("gw-ams"));
  const int entered = watch.Await(IsGateway("gw-fra", [](const v1::Gateway& g) {
    return g.labels().at("site") == "ams";
  }));
  EXPECT_GT(left, 0);
  ASSERT_GT(entered, 0);
  // Its link was kept (only labels changed): it enters connected.
  EXPECT_EQ(watch.event(entered).gateway().state(), v1::GATEWAY_CONNECTED);
  EXPECT_EQ(watch.event(entered).gateway().agent().instance_id(), "fra-1");

  // Outside the selection, gw-ams goes down and gw-new comes and goes
  // unheard; gw-fra, in it with the same labels, is not sent again.
  WatchStream observer(stub_.get(), WatchAll());
  observer.Snapshot();
  ams_.Kill();
  ASSERT_GT(observer.Await(IsGateway("gw-ams", InState(v1::GATEWAY_UNREACHABLE))), 0);
  Reload({{"gw-ams", ams_.address(), {{"site", "fra"}}},
          {"gw-fra", fra_.address(), {{"site", "ams"}}},
          {"gw-new", "127.0.0.1:1", {{"site", "fra"}}}});
  Reload({{"gw-fra", fra_.address(), {{"site", "ams"}}},
          {"gw-ams", "127.0.0.1:1", {{"site", "ams"}}}});
  const int back = watch.Await(IsGateway("gw-ams", [](const v1::Gateway& g) {
    return g.address() == "127.0.0.1:1";
  }));
  ASSERT_GT(back, left);
  const std::vector<v1::FleetWatchEvent> events = watch.events();
  for (int i = 1; i < back; ++i) {
    const v1::FleetWatchEvent& event = events[i];
    EXPECT_TRUE(i == left || i == entered) << i << ": " << event.DebugString();
  }
  for (const v1::FleetWatchEvent& event : events) {
    EXPECT_NE(event.gateway().name(), "gw-new") << event.DebugString();
    EXPECT_NE(event.removed(), "gw-new") << event.DebugString();
  }
}

TEST_F(FleetWatchTest, LabelSelectorMatchingNothingYetWaitsForAReload) {
  AwaitConnected();
  v1::FleetWatchRequest request;
  request.mutable_selector()->set_label_selector("site=nyc");
  WatchStream watch(stub_.get(), request);
  EXPECT_THAT(NamesIn(watch.Snapshot()), ElementsAre());
  Reload({{"gw-ams", ams_.address(), {{"site", "nyc"}}},
          {"gw-fra", fra_.address(), {{"site", "fra"}}}});
  EXPECT_GT(watch.Await(IsGateway("gw-ams", [](const v1::Gateway& g) {
    return g.labels().at("site") == "nyc";
  })), 0);
}

TEST_F(FleetWatchTest, GatewayRemovedFromTheFileIsRemovedAndReenters) {
  AwaitConnected();
  v1::FleetWatchRequest named;
  named.mutable_selector()->add_names("gw-fra");
  WatchStream by_name(stub_.get(), named);
  WatchStream all(stub_.get(), WatchAll());
  EXPECT_THAT(NamesIn(by_name.Snapshot()), ElementsAre("gw-fra"));
  EXPECT_THAT(NamesIn(all.Snapshot()), ElementsAre("gw-ams", "gw-fra"));

  Reload({TwoGateways()[0]});
  EXPECT_GT(by_name.Await(IsRemoval("gw-fra")), 0);
  EXPECT_GT(all.Await(IsRemoval("gw-fra")), 0);

  Reload(TwoGateways());
  EXPECT_GT(by_name.Await(IsGateway("gw-fra", Connected())), 0);
  EXPECT_GT(all.Await(IsGateway("gw-fra", Connected())), 0);
  for (const v1::FleetWatchEvent& event : by_name.events()) {
    EXPECT_NE(event.gateway().name(), "gw-ams") << event.DebugString();
  }
}

TEST_F(FleetWatchTest, QuietWatchGetsHeartbeatsAtItsInterval) {
  AwaitConnected();
  WatchStream quick(stub_.get(), WatchAll(absl::Seconds(1)));
  WatchStream slow(stub_.get(), WatchAll());  // 15 s
  quick.Snapshot();
  slow.Snapshot();
  const int first = quick.Await(IsHeartbeat());
  ASSERT_EQ(first, 1);
  const int second = quick.Await(IsHeartbeat(), first + 1);
  ASSERT_EQ(second, 2);
  const absl::Duration gap = TimeOf(quick.event(2)) - TimeOf(quick.event(1));
  EXPECT_GE(gap, absl::Milliseconds(990));
  EXPECT_LT(gap, absl::Seconds(3));
  EXPECT_GE(TimeOf(quick.event(1)) - TimeOf(quick.event(0)),
            absl::Milliseconds(990));
  EXPECT_EQ(slow.events().size(), 1u);
}

TEST_F(FleetWatchTest, SlowReaderGetsEachGatewaysLatestNotABacklog) {
  AwaitConnected();
  grpc::ClientContext context;
  auto reader = stub_->Watch(&context, WatchAll());
  // Not read while the fleet changes: gw-ams is relabelled 300 times and
  // gw-fra removed and added back.
  constexpr int kChanges = 300;
  for (int i = 1; i <= kChanges; ++i) {
    std::vector<Gateway> gateways = TwoGateways();
    gateways[0].labels["rev"] = absl::StrCat(i);
    if (i == kChanges / 2) gateways.pop_back();
    Reload(gateways);
  }
  std::vector<v1::FleetWatchEvent> events;
  v1::FleetWatchEvent event;
  const std::string last = absl::StrCat(kChanges);
  bool latest = false;
  while (!latest && reader->Read(&event)) {
    events.push_back(event);
    latest = event.has_gateway() && event.gateway().name() == "gw-ams" &&
             event.gateway().labels().at("rev") == last;
  }
  ASSERT_TRUE(latest);
  ASSERT_TRUE(events.front().has_snapshot());
  // The snapshot, what was being written when the changes came, and one
  // update per gateway: far fewer than the changes.
  EXPECT_LE(events.size(), 6u);
  bool fra_back = false;
  for (const v1::FleetWatchEvent& e : events) {
    fra_back = fra_back || (e.has_gateway() && e.gateway().name() == "gw-fra");
  }
  if (!fra_back) {
    while (!fra_back && reader->Read(&event)) {
      events.push_back(event);
      fra_back = event.has_gateway() && event.gateway().name() == "gw-fra";
    }
  }
  EXPECT_TRUE(fra_back);
  EXPECT_LE(events.size(), 6u);
  context.TryCancel();
  while (reader->Read(&event)) {
  }
  reader->Finish();
}

TEST_F(FleetWatchTest, RefusesBadHeartbeatsSelectorsAndUnknownNames) {
  v1::FleetWatchRequest request = WatchAll();
  request.mutable_heartbeat_interval()->set_nanos(500000000);
  grpc::Status s = Refusal(request);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("heartbeat_interval"));
  request.mutable_heartbeat_interval()->set_seconds(601);
  request.mutable_heartbeat_interval()->set_nanos(0);
  EXPECT_EQ(Refusal(request).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  request.mutable_heartbeat_interval()->set_seconds(0);
  EXPECT_EQ(Refusal(request).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  request.mutable_heartbeat_interval()->set_seconds(2);
  request.mutable_heartbeat_interval()->set_nanos(-1);
  EXPECT_EQ(Refusal(request).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  request.Clear();
  request.mutable_selector()->set_label_selector("a=b=c");
  EXPECT_EQ(Refusal(request).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  request.Clear();
  request.mutable_selector()->add_names("gw-nowhere");
  s = Refusal(request);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("gw-nowhere"));
  EXPECT_EQ(hub_.watcher_count(), 0);

  // The limits themselves are accepted.
  request = WatchAll(absl::Minutes(10));
  WatchStream longest(stub_.get(), request);
  request = WatchAll(absl::Seconds(1));
  WatchStream shortest(stub_.get(), request);
  EXPECT_THAT(NamesIn(longest.Snapshot()), ElementsAre("gw-ams", "gw-fra"));
  EXPECT_THAT(NamesIn(shortest.Snapshot()), ElementsAre("gw-ams", "gw-fra"));
}

TEST_F(FleetWatchTest, CancelledWatchLeavesTheHub) {
  {
    WatchStream watch(stub_.get(), WatchAll());
    watch.Snapshot();
    EXPECT_EQ(hub_.watcher_count(), 1);
  }
  const absl::Time deadline = absl::Now() + kPatience;
  while (hub_.watcher_count() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(hub_.watcher_count(), 0);
}

TEST_F(FleetWatchTest, EveryWatchEndsWhenTheHubShutsDown) {
  WatchStream first(stub_.get(), WatchAll());
  WatchStream second(stub_.get(), WatchAll(absl::Seconds(1)));
  first.Snapshot();
  second.Snapshot();
  hub_.Shutdown();
  for (WatchStream* watch : {&first, &second}) {
    const std::optional<grpc::Status> end = watch->AwaitEnd();
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  EXPECT_EQ(Refusal(WatchAll()).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(FleetWatchWithoutHubTest, WatchIsUnimplemented) {
  Fleet fleet(FastOptions());
  ControllerServiceImpl service(&fleet, nullptr);
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  auto stub = v1::ControllerService::NewStub(server->InProcessChannel({}));
  grpc::ClientContext context;
  auto reader = stub->Watch(&context, WatchAll());
  v1::FleetWatchEvent event;
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
  server->Shutdown();
}

}  // namespace
}  // namespace mailfleet::controller
