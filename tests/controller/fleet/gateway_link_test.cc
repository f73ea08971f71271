#include "controller/fleet/gateway_link.h"

#include <google/protobuf/util/message_differencer.h>

#include <atomic>
#include <climits>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/fake_agent_service.h"
#include "tests/controller/fleet/link_test_support.h"

namespace mailfleet::controller {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

// For what no change is reported: polls the link's status.
bool PollUntil(const GatewayLink& link,
               const std::function<bool(const GatewayStatus&)>& wanted) {
  const absl::Time deadline = absl::Now() + kPatience;
  while (absl::Now() < deadline) {
    if (wanted(link.status())) return true;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return wanted(link.status());
}

v1::QueueStats Queue(v1::QueueKind queue, int64_t messages) {
  v1::QueueStats stats;
  stats.set_queue(queue);
  stats.set_messages(messages);
  stats.set_bytes(messages * 4096);
  stats.set_recipients(messages);
  return stats;
}

// The first agent's: deferred and held mail, a top domain, a throttling MPA.
v1::QueueSummary BusySummary() {
  v1::QueueSummary summary;
  *summary.add_queues() = Queue(v1::POSTFIX_DEFERRED, 7);
  *summary.add_queues() = Queue(v1::POSTFIX_HOLD, 2);
  summary.set_total_messages(9);
  summary.set_total_bytes(9 * 4096);
  v1::DomainCount* domain = summary.add_top_domains();
  domain->set_domain("slow.example");
  domain->set_recipients(7);
  domain->set_messages(7);
  summary.mutable_mpa_throttle()->set_state(v1::MpaThrottle::THROTTLING);
  summary.mutable_mpa_throttle()->set_spool_items(5000);
  return summary;
}

// The restarted agent's: one active message, nothing else.
v1::QueueSummary QuietSummary() {
  v1::QueueSummary summary;
  *summary.add_queues() = Queue(v1::POSTFIX_ACTIVE, 1);
  summary.set_total_messages(1);
  summary.set_total_bytes(4096);
  return summary;
}

// A fake agent, a link to it, and the changes it reports.
class GatewayLinkTest : public ::testing::Test {
 protected:
  // Starts the agent, serving `events` on every Watch, and the link.
  void StartLink(std::vector<v1::WatchEvent> events,
                 const LinkOptions& options = FastOptions()) {
    ASSERT_TRUE(agent_.Start(std::move(events)));
    link_ = std::make_unique<GatewayLink>("gw1", agent_.address(), options,
                                          log_.Callback());
    link_->Start();
  }

  RestartableAgent agent_;
  ChangeLog log_;
  std::unique_ptr<GatewayLink> link_;  // Last, so stopped first.
};

TEST_F(GatewayLinkTest, ConnectsAndHoldsTheSnapshotsSummaryFoldedWithDeltas) {
  v1::WatchEvent delta = Event("i1", 11);
  *delta.mutable_delta()->mutable_summary()->add_queues() =
      Queue(v1::POSTFIX_DEFERRED, 8);
  delta.mutable_delta()->mutable_summary()->set_total_messages(10);
  StartLink({Snapshot("i1", 10, BusySummary()), delta});

  ASSERT_GE(log_.Await([](const GatewayStatus& status) {
    return status.state == GatewayState::kConnected && status.generation == 11;
  }),
            0);
  const GatewayStatus status = link_->status();
  EXPECT_EQ(status.name, "gw1");
  EXPECT_EQ(status.address, agent_.address());
  EXPECT_TRUE(status.synced);
  EXPECT_EQ(status.instance_id, "i1");
  EXPECT_EQ(status.agent.hostname(), "gw1.example.com");
  EXPECT_EQ(status.agent.generation(), 11);
  EXPECT_NE(status.last_heard, absl::InfinitePast());
  EXPECT_EQ(status.last_error, "");
  EXPECT_EQ(status.reconnects, 0);
  v1::QueueSummary expected = BusySummary();
  *expected.mutable_queues(0) = Queue(v1::POSTFIX_DEFERRED, 8);
  expected.set_total_messages(10);
  expected.set_total_bytes(0);
  EXPECT_TRUE(MessageDifferencer::Equals(status.summary, expected))
      << status.summary.DebugString();
  EXPECT_EQ(status.summary.mpa_throttle().state(), v1::MpaThrottle::THROTTLING);

  // The summary alone, with the heartbeat and top list asked for.
  const std::vector<v1::WatchRequest> requests =
      agent_.service().watch_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_FALSE(requests[0].include_messages());
  EXPECT_EQ(requests[0].top_n(), 5);
  EXPECT_EQ(requests[0].heartbeat_interval().seconds(), 1);
}

TEST_F(GatewayLinkTest, AgentGoneMakesTheGatewayUnreachableAndKeepsRetrying) {
  StartLink({Snapshot("i1", 10, BusySummary())});
  const int connected = log_.Await(InState(GatewayState::kConnected));
  ASSERT_GE(connected, 0);

  agent_.Kill();
  ASSERT_GE(log_.Await(InState(GatewayState::kUnreachable), connected), 0);
  ASSERT_TRUE(PollUntil(*link_, [](const GatewayStatus& status) {
    return status.reconnects >= 3;
  }));
  const GatewayStatus status = link_->status();
  EXPECT_EQ(status.state, GatewayState::kUnreachable);
  EXPECT_THAT(status.last_error, HasSubstr(agent_.address()));
  EXPECT_THAT(status.last_error, HasSubstr("UNAVAILABLE"));
  EXPECT_EQ(status.last_error.find('\n'), std::string::npos);
  // The last summary known stays, marked as no longer live.
  EXPECT_FALSE(status.synced);
  EXPECT_EQ(status.instance_id, "i1");
  EXPECT_TRUE(MessageDifferencer::Equals(status.summary, BusySummary()));
}

TEST_F(GatewayLinkTest, RestartedAgentIsResnapshottedAndReplacesTheOldSummary) {
  StartLink({Snapshot("i1", 500, BusySummary())});
  const int first = log_.Await(InState(GatewayState::kConnected));
  ASSERT_GE(first, 0);

  agent_.Kill();
  const int lost = log_.Await(InState(GatewayState::kUnreachable), first);
  ASSERT_GE(lost, 0);
  // Refused at least once more while down, then a new instance on the
  // same port, its generations started again.
  ASSERT_TRUE(PollUntil(*link_, [](const GatewayStatus& status) {
    return status.reconnects >= 2;
  }));
  ASSERT_TRUE(agent_.Start({Snapshot("i2", 3, QuietSummary())}));
  ASSERT_GE(log_.Await(
                [](const GatewayStatus& status) {
                  return status.state == GatewayState::kConnected &&
                         status.instance_id == "i2";
                },
                lost),
            0);
  const GatewayStatus status = link_->status();
  EXPECT_TRUE(status.synced);
  EXPECT_EQ(status.generation, 3);
  EXPECT_EQ(status.agent.instance_id(), "i2");
  // Replaced whole: nothing of the old instance's queues, domains or MPA.
  EXPECT_TRUE(MessageDifferencer::Equals(status.summary, QuietSummary()))
      << status.summary.DebugString();
  EXPECT_THAT(status.last_error, HasSubstr(agent_.address()));
}

TEST_F(GatewayLinkTest, SilentStreamTurnsStaleThenIsReopened) {
  LinkOptions options = FastOptions();
  options.stale_after = absl::Milliseconds(60);
  // A snapshot, then nothing at all: no heartbeats.
  StartLink({Snapshot("i1", 10, BusySummary())}, options);

  const int connected = log_.Await(InState(GatewayState::kConnected));
  ASSERT_GE(connected, 0);
  const int stale = log_.Await(InState(GatewayState::kStale), connected);
  ASSERT_GE(stale, 0);
  // Twice stale_after without a word: the stream is given up and reopened.
  const int reopened = log_.Await(InState(GatewayState::kUnreachable), stale);
  ASSERT_GE(reopened, 0);
  EXPECT_TRUE(agent_.service().AwaitWatchesCancelled(1, kPatience));
  ASSERT_GE(log_.Await(InState(GatewayState::kConnected), reopened), 0);
  EXPECT_GE(agent_.service().watch_requests().size(), 2u);
  const GatewayStatus status = link_->status();
  EXPECT_THAT(status.last_error, HasSubstr(agent_.address()));
  EXPECT_THAT(status.last_error, HasSubstr("nothing heard"));
}

TEST_F(GatewayLinkTest,
       StreamWithoutSnapshotWithinConnectTimeoutIsUnreachable) {
  LinkOptions options = FastOptions();
  options.connect_timeout = absl::Milliseconds(80);
  StartLink({}, options);  // Accepts the watch, says nothing.

  ASSERT_EQ(log_.Await(InState(GatewayState::kUnreachable)), 0);
  EXPECT_TRUE(agent_.service().AwaitWatchesCancelled(1, kPatience));
  const GatewayStatus status = link_->status();
  EXPECT_THAT(status.last_error, HasSubstr("no complete snapshot"));
  EXPECT_THAT(status.last_error, HasSubstr(agent_.address()));
  EXPECT_EQ(status.last_heard, absl::InfinitePast());
  EXPECT_FALSE(status.synced);
}

TEST_F(GatewayLinkTest, StopIsPromptWhileBackingOff) {
  ASSERT_TRUE(agent_.Start({}));
  agent_.Kill();  // A port where nothing listens.
  LinkOptions options = FastOptions();
  options.initial_backoff = absl::Seconds(30);
  options.max_backoff = absl::Seconds(30);
  GatewayLink link("gw1", agent_.address(), options, log_.Callback());
  link.Start();
  ASSERT_GE(log_.Await(InState(GatewayState::kUnreachable)), 0);

  const absl::Time stopping = absl::Now();
  link.Stop();
  EXPECT_LT(absl::Now() - stopping, absl::Seconds(1));
}

TEST_F(GatewayLinkTest, StopIsPromptWithTheStreamOpenAndCancelsIt) {
  StartLink({Snapshot("i1", 10, BusySummary())});
  ASSERT_GE(log_.Await(InState(GatewayState::kConnected)), 0);

  const absl::Time stopping = absl::Now();
  link_->Stop();
  EXPECT_LT(absl::Now() - stopping, absl::Seconds(1));
  EXPECT_TRUE(agent_.service().AwaitWatchesCancelled(1, kPatience));
  link_->Stop();  // Again: nothing more to do.
}

TEST_F(GatewayLinkTest, NoChangeIsReportedAfterStopReturns) {
  // Flapping as fast as it can: stale, reopened, resynced, over and over.
  ASSERT_TRUE(agent_.Start({Snapshot("i1", 10, BusySummary())}));
  LinkOptions options = FastOptions();
  options.stale_after = absl::Milliseconds(5);
  options.initial_backoff = absl::Milliseconds(1);
  options.max_backoff = absl::Milliseconds(1);
  // The callback may read the link's status.
  std::atomic<int> status_reads{0};
  GatewayLink::ChangeCallback record = log_.Callback();
  link_ = std::make_unique<GatewayLink>("gw1", agent_.address(), options,
                                        [&](const GatewayStatus& status) {
                                          if (link_->status().name == "gw1")
                                            ++status_reads;
                                          record(status);
                                        });
  link_->Start();
  ASSERT_TRUE(PollUntil(*link_, [](const GatewayStatus& status) {
    return status.reconnects >= 3;
  }));

  link_->Stop();
  log_.Close();
  const size_t reported = log_.size();
  agent_.Kill();
  // Whatever the threads were about to report had to be before Stop
  // returned; give a stray one time to show.
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(log_.late());
  EXPECT_EQ(log_.size(), reported);
  EXPECT_EQ(status_reads.load(), static_cast<int>(reported));
  link_.reset();  // Before the callback's locals go.
}

TEST_F(GatewayLinkTest, StoppedBeforeStartIsNeverStarted) {
  GatewayLink link("gw1", "127.0.0.1:1", FastOptions(), log_.Callback());
  link.Stop();
  link.Start();
  const GatewayStatus status = link.status();
  EXPECT_EQ(status.state, GatewayState::kConnecting);
  EXPECT_EQ(status.last_heard, absl::InfinitePast());
  EXPECT_FALSE(status.synced);
  EXPECT_EQ(status.reconnects, 0);
  EXPECT_EQ(log_.size(), 0u);
}

TEST(BackoffTest, CeilingDoublesFromTheInitialUpToTheMaximum) {
  LinkOptions options;
  options.initial_backoff = absl::Milliseconds(200);
  options.max_backoff = absl::Seconds(30);
  const std::vector<absl::Duration> expected = {
      absl::Milliseconds(200),   absl::Milliseconds(400),
      absl::Milliseconds(800),   absl::Milliseconds(1600),
      absl::Milliseconds(3200),  absl::Milliseconds(6400),
      absl::Milliseconds(12800), absl::Milliseconds(25600),
      absl::Seconds(30),         absl::Seconds(30)};
  for (int attempt = 0; attempt < static_cast<int>(expected.size());
       ++attempt) {
    EXPECT_EQ(BackoffCeiling(attempt, options), expected[attempt])
        << "attempt " << attempt;
  }
  EXPECT_EQ(BackoffCeiling(1000, options), absl::Seconds(30));
  EXPECT_EQ(BackoffCeiling(INT_MAX, options), absl::Seconds(30));
  EXPECT_EQ(BackoffCeiling(-1, options), absl::Milliseconds(200));
}

TEST(BackoffTest, FullJitterSpreadsOverZeroToTheCeiling) {
  LinkOptions options;
  std::mt19937_64 gen(42);
  for (int attempt : {0, 3, 20}) {
    const absl::Duration ceiling = BackoffCeiling(attempt, options);
    absl::Duration least = absl::InfiniteDuration();
    absl::Duration most = absl::ZeroDuration();
    for (int i = 0; i < 2000; ++i) {
      const absl::Duration backoff = BackoffFor(attempt, options, gen);
      ASSERT_GE(backoff, absl::ZeroDuration());
      ASSERT_LE(backoff, ceiling);
      least = std::min(least, backoff);
      most = std::max(most, backoff);
    }
    EXPECT_LT(least, ceiling / 20) << "attempt " << attempt;
    EXPECT_GT(most, ceiling * 19 / 20) << "attempt " << attempt;
  }
}

TEST(LinkOptionsTest, DefaultsAreValidAndNonsenseIsRefused) {
  EXPECT_TRUE(CheckLinkOptions(LinkOptions()).ok());
  LinkOptions fast_heartbeat;
  fast_heartbeat.heartbeat = absl::Milliseconds(500);
  EXPECT_THAT(CheckLinkOptions(fast_heartbeat).message(),
              HasSubstr("not between 1s and 10m"));
  LinkOptions jumpy;
  jumpy.stale_after = jumpy.heartbeat;
  EXPECT_THAT(CheckLinkOptions(jumpy).message(), HasSubstr("stale-after"));
  LinkOptions backwards;
  backwards.max_backoff = absl::Milliseconds(100);
  EXPECT_THAT(CheckLinkOptions(backwards).message(), HasSubstr("backoff"));
  LinkOptions no_backoff;
  no_backoff.initial_backoff = absl::ZeroDuration();
  EXPECT_FALSE(CheckLinkOptions(no_backoff).ok());
  LinkOptions impatient;
  impatient.connect_timeout = absl::ZeroDuration();
  EXPECT_THAT(CheckLinkOptions(impatient).message(), HasSubstr("connect"));
  LinkOptions greedy;
  greedy.top_n = 1001;
  EXPECT_THAT(CheckLinkOptions(greedy).message(), HasSubstr("top-n"));
}

TEST(GatewayStateTest, NamesAreTheDesignsWords) {
  EXPECT_EQ(GatewayStateName(GatewayState::kConnecting), "connecting");
  EXPECT_EQ(GatewayStateName(GatewayState::kConnected), "connected");
  EXPECT_EQ(GatewayStateName(GatewayState::kStale), "stale");
  EXPECT_EQ(GatewayStateName(GatewayState::kUnreachable), "unreachable");
}

}  // namespace
}  // namespace mailfleet::controller
