// Watch over real gRPC in-process, on a fake queue directory whose index
// the test changes by hand.
#include <grpcpp/grpcpp.h>

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/in_process_agent.h"

namespace mailfleet {
namespace {

using ::testing::HasSubstr;

using ::mailfleet::testing::Stream;
using WatchHubTest = ::mailfleet::testing::InProcessAgentTest;

TEST_F(WatchHubTest, SnapshotThenDeltasWithTheSummarysChanges) {
  WatchHubOptions options;
  options.tick = absl::Milliseconds(100);
  StartAgent(options);
  const int64_t g = index_->Current()->generation();
  v1::WatchRequest req;
  Stream stream(*stub_, req);
  v1::WatchEvent first = stream.Next();
  ASSERT_TRUE(first.has_snapshot());
  EXPECT_EQ(first.instance_id(), index_->instance_id());
  EXPECT_EQ(first.generation(), g);
  EXPECT_EQ(first.snapshot().reason(), v1::WatchSnapshot::REASON_INITIAL);
  EXPECT_TRUE(first.snapshot().last());
  EXPECT_EQ(first.snapshot().messages_size(), 0);  // not asked for
  EXPECT_EQ(first.snapshot().summary().total_messages(), 25);
  EXPECT_EQ(first.snapshot().agent().hostname(), "gw-test");

  Move(3, "deferred", "hold");
  AddMessage(30, "incoming");
  index_->Refresh({{Id(3), std::nullopt}, {Id(30), std::nullopt}});
  v1::WatchEvent delta = stream.NextChange();
  ASSERT_TRUE(delta.has_delta()) << delta.DebugString();
  EXPECT_EQ(delta.generation(), g + 1);
  ASSERT_EQ(delta.delta().changes_size(), 2);
  for (const auto& c : delta.delta().changes()) {
    if (c.queue_id() == Id(3)) {
      EXPECT_EQ(c.kind(), v1::MessageChange::MOVED);
      EXPECT_EQ(c.from_queue(), v1::POSTFIX_DEFERRED);
      EXPECT_EQ(c.to_queue(), v1::POSTFIX_HOLD);
    } else {
      EXPECT_EQ(c.queue_id(), Id(30));
      EXPECT_EQ(c.kind(), v1::MessageChange::ADDED);
      EXPECT_EQ(c.to_queue(), v1::POSTFIX_INCOMING);
    }
    EXPECT_FALSE(c.has_message());
  }
  const v1::SummaryUpdate su = stream.SummaryOf(delta);
  EXPECT_EQ(su.total_messages(), 26);
  EXPECT_EQ(su.queues_size(), 3);  // deferred, hold and incoming changed
  EXPECT_FALSE(su.has_top_delay_reasons());
  EXPECT_TRUE(su.has_top_domains());  // a new domain's recipient
}

TEST_F(WatchHubTest, FilteredWatcherSeesMessagesEnterAndLeaveItsView) {
  WatchHubOptions options;
  options.tick = absl::Milliseconds(100);
  StartAgent(options);
  v1::WatchRequest req;
  req.mutable_filter()->add_queues(v1::POSTFIX_DEFERRED);
  req.set_include_messages(true);
  Stream stream(*stub_, req);
  v1::WatchEvent first = stream.Next();
  EXPECT_EQ(first.snapshot().messages_size(), 25);
  EXPECT_EQ(first.snapshot().summary().total_messages(), 25);

  Move(4, "deferred", "hold");  // leaves the view: removed
  AddMessage(31, "incoming");   // never in it: not sent
  index_->Refresh({{Id(4), std::nullopt}, {Id(31), std::nullopt}});
  v1::WatchEvent delta = stream.NextChange();
  ASSERT_EQ(delta.delta().changes_size(), 1);
  EXPECT_EQ(delta.delta().changes(0).kind(), v1::MessageChange::REMOVED);
  EXPECT_EQ(delta.delta().changes(0).from_queue(), v1::POSTFIX_DEFERRED);
  EXPECT_EQ(stream.SummaryOf(delta).total_messages(), 24);

  Move(4, "hold", "deferred");  // back: added, with the message
  index_->Refresh({{Id(4), std::nullopt}});
  delta = stream.NextChange();
  ASSERT_EQ(delta.delta().changes_size(), 1);
  EXPECT_EQ(delta.delta().changes(0).kind(), v1::MessageChange::ADDED);
  EXPECT_EQ(delta.delta().changes(0).message().queue_id(), Id(4));
  EXPECT_EQ(delta.delta().changes(0).message().recipients(0).address(), "r4@x.example");
}

TEST_F(WatchHubTest, ABusyQueuesSummaryIsSentAtMostOnceASecondAndCatchesUp) {
  WatchHubOptions options;
  options.tick = absl::Milliseconds(100);
  StartAgent(options);
  Stream stream(*stub_, v1::WatchRequest());
  ASSERT_TRUE(stream.Next().has_snapshot());
  const absl::Time start = absl::Now();
  int summaries = 0;
  int64_t total = 25;
  for (int i = 200; i < 240; ++i) {
    AddMessage(i, "incoming");
    index_->Refresh({{Id(i), QueueKind::kIncoming}});
    v1::WatchEvent e = stream.Next();
    while (e.has_heartbeat()) {
      if (e.heartbeat().has_summary()) {
        ++summaries;
        total = e.heartbeat().summary().total_messages();
      }
      e = stream.Next();
    }
    ASSERT_TRUE(e.has_delta());
    if (e.delta().has_summary()) {
      ++summaries;
      total = e.delta().summary().total_messages();
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  // The last one comes with a heartbeat within a second or two.
  while (total != 65) {
    v1::WatchEvent e = stream.Next();
    ASSERT_TRUE(e.has_heartbeat());
    if (e.heartbeat().has_summary()) {
      ++summaries;
      total = e.heartbeat().summary().total_messages();
    }
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  EXPECT_LE(summaries, seconds + 2) << summaries << " summaries in " << seconds << " s";
}

TEST_F(WatchHubTest, LargeSnapshotsComeInParts) {
  WatchHubOptions options;
  options.snapshot_part_messages = 10;
  StartAgent(options);
  v1::WatchRequest req;
  req.set_include_messages(true);
  Stream stream(*stub_, req);
  std::vector<int> sizes;
  std::vector<std::string> ids;
  for (;;) {
    v1::WatchEvent e = stream.Next();
    ASSERT_TRUE(e.has_snapshot());
    EXPECT_EQ(e.snapshot().has_summary(), sizes.empty());
    sizes.push_back(e.snapshot().messages_size());
    for (const auto& m : e.snapshot().messages()) ids.push_back(m.queue_id());
    if (e.snapshot().last()) break;
  }
  EXPECT_EQ(sizes, (std::vector<int>{10, 10, 5}));
  std::vector<std::string> expected;
  for (int i = 0; i < 25; ++i) expected.push_back(Id(i));
  EXPECT_EQ(ids, expected);
}

TEST_F(WatchHubTest, AWatcherThatFallsBehindIsResynchronised) {
  WatchHubOptions options;
  options.max_outbox_events = 3;
  StartAgent(options);
  // A small window: the transport stops taking events from the agent soon
  // after the client stops reading.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
  auto slow_stub = v1::AgentService::NewStub(server_->InProcessChannel(args));
  v1::WatchRequest req;
  req.set_include_messages(true);
  Stream slow(*slow_stub, req);
  Stream fast(*stub_, req);
  ASSERT_TRUE(fast.Next().has_snapshot());
  const int kChanges = 200;
  for (int i = 100; i < 100 + kChanges; ++i) {
    AddMessage(i, "incoming");
    index_->Refresh({{Id(i), QueueKind::kIncoming}});
    // The fast one keeps up with every batch.
    v1::WatchEvent e = fast.NextChange();
    ASSERT_TRUE(e.has_delta());
    ASSERT_EQ(e.delta().changes(0).queue_id(), Id(i));
  }
  // The slow one reads at last: whatever it missed came as a snapshot of
  // the queue as it is now.
  bool resynced = false;
  std::set<std::string> held;
  for (;;) {
    v1::WatchEvent e = slow.NextChange();
    if (e.has_snapshot()) {
      if (e.snapshot().reason() == v1::WatchSnapshot::REASON_RESYNC) resynced = true;
      if (e.snapshot().has_agent()) held.clear();  // a snapshot's first part
      for (const auto& m : e.snapshot().messages()) held.insert(m.queue_id());
    } else {
      for (const auto& c : e.delta().changes()) held.insert(c.queue_id());
    }
    if (e.generation() == index_->Current()->generation() &&
        (!e.has_snapshot() || e.snapshot().last())) {
      break;
    }
  }
  EXPECT_TRUE(resynced);
  EXPECT_EQ(held.size(), 25u + kChanges);
}

TEST_F(WatchHubTest, HeartbeatsCarryTheGenerationWhileNothingChanges) {
  WatchHubOptions options;
  options.tick = absl::Milliseconds(100);
  StartAgent(options);
  v1::WatchRequest req;
  req.mutable_heartbeat_interval()->set_seconds(1);
  Stream stream(*stub_, req);
  ASSERT_TRUE(stream.Next().has_snapshot());
  absl::Time start = absl::Now();
  v1::WatchEvent e = stream.Next();
  ASSERT_TRUE(e.has_heartbeat());
  EXPECT_EQ(e.generation(), index_->Current()->generation());
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_FALSE(e.heartbeat().has_summary());  // nothing aged into another bucket
}

TEST_F(WatchHubTest, BadRequestsAreRefusedWithAReason) {
  StartAgent();
  v1::WatchRequest req;
  req.mutable_heartbeat_interval()->set_nanos(500000000);
  EXPECT_EQ(Stream(*stub_, req).End().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req = {};
  req.set_top_n(-1);
  EXPECT_EQ(Stream(*stub_, req).End().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req = {};
  req.mutable_filter()->set_regex(true);
  req.mutable_filter()->set_pattern("(unclosed");
  grpc::Status s = Stream(*stub_, req).End();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("regular expression"));
}

TEST_F(WatchHubTest, TooManyWatchersAreRefusedAndShutdownEndsTheRest) {
  WatchHubOptions options;
  options.max_watchers = 2;
  StartAgent(options);
  v1::WatchRequest req;
  Stream a(*stub_, req), b(*stub_, req);
  ASSERT_TRUE(a.Next().has_snapshot());
  ASSERT_TRUE(b.Next().has_snapshot());
  grpc::Status third = Stream(*stub_, req).End();
  EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  service_->EndWatches();
  EXPECT_EQ(a.End().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(b.End().error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace mailfleet
