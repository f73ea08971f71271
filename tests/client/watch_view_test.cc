// WatchView: snapshots in parts, deltas and heartbeats in generation order,
// resyncs and restarts that replace everything, and SummaryUpdate's merge
// rules.
#include "client/watch_view.h"

#include <google/protobuf/util/message_differencer.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mailfleet {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

v1::Message Msg(const std::string& id, v1::QueueKind queue,
                const std::string& sender = "alice@example.com") {
  v1::Message message;
  message.set_queue_id(id);
  message.set_queue(queue);
  message.set_sender(sender);
  return message;
}

v1::QueueStats Stats(v1::QueueKind queue, int64_t messages) {
  v1::QueueStats stats;
  stats.set_queue(queue);
  stats.set_messages(messages);
  stats.set_bytes(messages * 1000);
  stats.set_recipients(messages * 2);
  return stats;
}

v1::QueueSummary Summary(std::vector<v1::QueueStats> queues) {
  v1::QueueSummary summary;
  for (const v1::QueueStats& stats : queues) {
    *summary.add_queues() = stats;
    summary.set_total_messages(summary.total_messages() + stats.messages());
    summary.set_total_bytes(summary.total_bytes() + stats.bytes());
  }
  return summary;
}

v1::WatchEvent Event(const std::string& instance, int64_t generation) {
  v1::WatchEvent event;
  event.set_instance_id(instance);
  event.set_generation(generation);
  event.mutable_time()->set_seconds(1732449600 + generation);
  return event;
}

// One part of a snapshot; the first (with `summary`) names the agent.
v1::WatchEvent Part(
    const std::string& instance, int64_t generation,
    std::vector<v1::Message> messages, bool last,
    const v1::QueueSummary* summary = nullptr,
    v1::WatchSnapshot::Reason reason = v1::WatchSnapshot::REASON_INITIAL) {
  v1::WatchEvent event = Event(instance, generation);
  v1::WatchSnapshot* snapshot = event.mutable_snapshot();
  snapshot->set_reason(reason);
  if (summary != nullptr) {
    snapshot->mutable_agent()->set_hostname("gw1.example.com");
    snapshot->mutable_agent()->set_instance_id(instance);
    snapshot->mutable_agent()->set_generation(generation);
    *snapshot->mutable_summary() = *summary;
  }
  for (v1::Message& message : messages) {
    *snapshot->add_messages() = std::move(message);
  }
  snapshot->set_last(last);
  return event;
}

v1::MessageChange Change(v1::MessageChange::Kind kind, const std::string& id,
                         v1::QueueKind from, v1::QueueKind to) {
  v1::MessageChange change;
  change.set_kind(kind);
  change.set_queue_id(id);
  change.set_from_queue(from);
  change.set_to_queue(to);
  if (kind != v1::MessageChange::REMOVED)
    *change.mutable_message() = Msg(id, to);
  return change;
}

v1::WatchEvent Delta(const std::string& instance, int64_t generation,
                     std::vector<v1::MessageChange> changes) {
  v1::WatchEvent event = Event(instance, generation);
  v1::WatchDelta* delta = event.mutable_delta();
  for (v1::MessageChange& change : changes) {
    *delta->add_changes() = std::move(change);
  }
  return event;
}

v1::WatchEvent Heartbeat(const std::string& instance, int64_t generation) {
  v1::WatchEvent event = Event(instance, generation);
  event.mutable_heartbeat();
  return event;
}

std::vector<std::string> Ids(const WatchView& view) {
  std::vector<std::string> ids;
  for (const auto& [key, message] : view.messages()) ids.push_back(key.second);
  return ids;
}

// A view that has taken a one-part snapshot of A1 and B2 at `generation`.
WatchView SyncedView(int64_t generation, bool track = true) {
  WatchView view(track);
  const v1::QueueSummary summary =
      Summary({Stats(v1::POSTFIX_DEFERRED, 1), Stats(v1::POSTFIX_HOLD, 1)});
  EXPECT_TRUE(view.Apply(Part("i1", generation,
                              {Msg("A1", v1::POSTFIX_DEFERRED),
                               Msg("B2", v1::POSTFIX_HOLD)},
                              true, &summary))
                  .ok());
  return view;
}

TEST(WatchViewTest, SnapshotInPartsIsShownOnlyOnceComplete) {
  WatchView view(/*track_messages=*/true);
  EXPECT_FALSE(view.synced());
  const v1::QueueSummary summary = Summary({Stats(v1::POSTFIX_DEFERRED, 3)});
  ASSERT_TRUE(view.Apply(Part("i1", 7,
                              {Msg("A1", v1::POSTFIX_DEFERRED),
                               Msg("B2", v1::POSTFIX_DEFERRED)},
                              false, &summary))
                  .ok());
  EXPECT_FALSE(view.synced());
  EXPECT_TRUE(view.receiving_snapshot());
  EXPECT_TRUE(view.messages().empty());
  EXPECT_EQ(view.generation(), 0);

  // Later parts need not repeat the reason.
  v1::WatchEvent last = Part("i1", 7, {Msg("C3", v1::POSTFIX_DEFERRED)}, true);
  last.mutable_snapshot()->clear_reason();
  ASSERT_TRUE(view.Apply(last).ok());
  EXPECT_EQ(view.snapshot_reason(), v1::WatchSnapshot::REASON_INITIAL);
  EXPECT_TRUE(view.synced());
  EXPECT_FALSE(view.receiving_snapshot());
  EXPECT_EQ(view.instance_id(), "i1");
  EXPECT_EQ(view.generation(), 7);
  EXPECT_EQ(view.agent().hostname(), "gw1.example.com");
  EXPECT_TRUE(MessageDifferencer::Equals(view.summary(), summary));
  EXPECT_THAT(Ids(view), UnorderedElementsAre("A1", "B2", "C3"));
  EXPECT_EQ(view.time().seconds(), 1732449607);
  EXPECT_EQ(view.snapshots(), 1);
  EXPECT_EQ(view.restarts(), 0);
}

TEST(WatchViewTest, PartOfAnotherSnapshotIsRefused) {
  WatchView view(true);
  const v1::QueueSummary summary = Summary({});
  ASSERT_TRUE(view.Apply(Part("i1", 7, {}, false, &summary)).ok());
  absl::Status status = view.Apply(Part("i1", 8, {}, true));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("generation 8"));
  EXPECT_FALSE(view.Apply(Part("i2", 7, {}, true)).ok());
  EXPECT_TRUE(view.receiving_snapshot());
  // Deltas wait for the last part.
  EXPECT_FALSE(view.Apply(Delta("i1", 9, {})).ok());
  EXPECT_TRUE(view.Apply(Part("i1", 7, {}, true)).ok());
  EXPECT_TRUE(view.synced());
}

TEST(WatchViewTest, DeltasAndHeartbeatsNeedASnapshotFirst) {
  WatchView view;
  absl::Status status = view.Apply(Delta("i1", 1, {}));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("before any snapshot"));
  EXPECT_FALSE(view.Apply(Heartbeat("i1", 1)).ok());
  EXPECT_FALSE(view.synced());
}

TEST(WatchViewTest, DeltaKeepsMessagesCurrent) {
  WatchView view = SyncedView(10);
  v1::MessageChange moved_bare = Change(v1::MessageChange::MOVED, "B2",
                                        v1::POSTFIX_HOLD, v1::POSTFIX_DEFERRED);
  moved_bare.clear_message();
  ASSERT_TRUE(
      view.Apply(
              Delta("i1", 11,
                    {Change(v1::MessageChange::ADDED, "C3",
                            v1::QUEUE_KIND_UNSPECIFIED, v1::POSTFIX_INCOMING),
                     Change(v1::MessageChange::REMOVED, "A1",
                            v1::POSTFIX_DEFERRED, v1::QUEUE_KIND_UNSPECIFIED),
                     moved_bare}))
          .ok());
  EXPECT_EQ(view.generation(), 11);
  EXPECT_THAT(Ids(view), UnorderedElementsAre("B2", "C3"));
  EXPECT_EQ(view.messages().at({false, "C3"}).queue(), v1::POSTFIX_INCOMING);
  // Without the message, a move still moves what was held.
  EXPECT_EQ(view.messages().at({false, "B2"}).queue(), v1::POSTFIX_DEFERRED);
  EXPECT_EQ(view.messages().at({false, "B2"}).sender(), "alice@example.com");

  v1::MessageChange changed =
      Change(v1::MessageChange::CHANGED, "B2", v1::POSTFIX_DEFERRED,
             v1::POSTFIX_DEFERRED);
  changed.mutable_message()->set_forced_expire(true);
  ASSERT_TRUE(view.Apply(Delta("i1", 12, {changed})).ok());
  EXPECT_TRUE(view.messages().at({false, "B2"}).forced_expire());
}

TEST(WatchViewTest, WithoutTrackingNoMessagesAreKept) {
  WatchView view = SyncedView(10, /*track=*/false);
  ASSERT_TRUE(view.Apply(Delta("i1", 11,
                               {Change(v1::MessageChange::ADDED, "C3",
                                       v1::QUEUE_KIND_UNSPECIFIED,
                                       v1::POSTFIX_INCOMING)}))
                  .ok());
  EXPECT_TRUE(view.messages().empty());
  EXPECT_EQ(view.generation(), 11);
}

TEST(WatchViewTest, DeltaGenerationsMustGrowAndARefusedDeltaChangesNothing) {
  WatchView view = SyncedView(10);
  for (int64_t generation : {10, 9}) {
    absl::Status status = view.Apply(
        Delta("i1", generation,
              {Change(v1::MessageChange::REMOVED, "A1", v1::POSTFIX_DEFERRED,
                      v1::QUEUE_KIND_UNSPECIFIED)}));
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(status.message(), HasSubstr("does not follow generation 10"));
  }
  EXPECT_THAT(Ids(view), UnorderedElementsAre("A1", "B2"));
  EXPECT_EQ(view.generation(), 10);
  // Generations may skip: changes the filter does not select.
  EXPECT_TRUE(view.Apply(Delta("i1", 15, {})).ok());
  EXPECT_EQ(view.generation(), 15);
  EXPECT_EQ(view.agent().generation(), 15);
}

TEST(WatchViewTest, HeartbeatMayKeepOrAdvanceTheGenerationNotGoBack) {
  WatchView view = SyncedView(10);
  EXPECT_TRUE(view.Apply(Heartbeat("i1", 10)).ok());
  EXPECT_EQ(view.generation(), 10);
  EXPECT_EQ(view.time().seconds(), 1732449610);
  EXPECT_TRUE(view.Apply(Heartbeat("i1", 12)).ok());
  EXPECT_EQ(view.generation(), 12);
  EXPECT_FALSE(view.Apply(Heartbeat("i1", 11)).ok());
  EXPECT_EQ(view.generation(), 12);
  // A delta must still move past the heartbeat's generation.
  EXPECT_FALSE(view.Apply(Delta("i1", 12, {})).ok());
}

TEST(WatchViewTest, ResyncReplacesEverythingHeld) {
  WatchView view = SyncedView(10);
  ASSERT_TRUE(view.Apply(Delta("i1", 11,
                               {Change(v1::MessageChange::ADDED, "C3",
                                       v1::QUEUE_KIND_UNSPECIFIED,
                                       v1::POSTFIX_INCOMING)}))
                  .ok());
  const v1::QueueSummary summary = Summary({Stats(v1::MPA_ERROR, 1)});
  ASSERT_TRUE(view.Apply(Part("i1", 40, {Msg("D4", v1::MPA_ERROR)}, true,
                              &summary, v1::WatchSnapshot::REASON_RESYNC))
                  .ok());
  EXPECT_THAT(Ids(view), UnorderedElementsAre("D4"));
  EXPECT_TRUE(MessageDifferencer::Equals(view.summary(), summary));
  EXPECT_EQ(view.generation(), 40);
  EXPECT_EQ(view.snapshots(), 2);
  EXPECT_EQ(view.restarts(), 0);
  EXPECT_EQ(view.snapshot_reason(), v1::WatchSnapshot::REASON_RESYNC);
  // Deltas go on from the resync's generation.
  EXPECT_FALSE(view.Apply(Delta("i1", 12, {})).ok());
  EXPECT_TRUE(view.Apply(Delta("i1", 41, {})).ok());
}

TEST(WatchViewTest, SnapshotOfTheSameInstanceCannotGoBack) {
  WatchView view = SyncedView(10);
  const v1::QueueSummary summary = Summary({});
  absl::Status status = view.Apply(Part("i1", 9, {}, true, &summary));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Ids(view), UnorderedElementsAre("A1", "B2"));
}

TEST(WatchViewTest, NewInstanceStartsGenerationsAgainWithItsSnapshot) {
  WatchView view = SyncedView(50);
  // Not without a snapshot.
  absl::Status status = view.Apply(Delta("i2", 51, {}));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("instance i2"));
  const v1::QueueSummary summary = Summary({Stats(v1::POSTFIX_ACTIVE, 1)});
  ASSERT_TRUE(
      view.Apply(Part("i2", 1, {Msg("E5", v1::POSTFIX_ACTIVE)}, true, &summary))
          .ok());
  EXPECT_EQ(view.instance_id(), "i2");
  EXPECT_EQ(view.generation(), 1);
  EXPECT_EQ(view.restarts(), 1);
  EXPECT_THAT(Ids(view), UnorderedElementsAre("E5"));
  EXPECT_FALSE(view.Apply(Delta("i1", 60, {})).ok());
  EXPECT_TRUE(view.Apply(Delta("i2", 2, {})).ok());
}

TEST(WatchViewTest, EventOfAnUnknownKindIsIgnored) {
  WatchView view = SyncedView(10);
  EXPECT_TRUE(view.Apply(Event("i1", 3)).ok());
  EXPECT_EQ(view.generation(), 10);
}

TEST(WatchViewTest, SummaryUpdateInADeltaOrHeartbeatIsMerged) {
  WatchView view = SyncedView(10);
  v1::WatchEvent delta = Delta("i1", 11, {});
  v1::SummaryUpdate* update = delta.mutable_delta()->mutable_summary();
  *update->add_queues() = Stats(v1::POSTFIX_HOLD, 0);
  update->set_total_messages(1);
  ASSERT_TRUE(view.Apply(delta).ok());
  ASSERT_EQ(view.summary().queues_size(), 1);
  EXPECT_EQ(view.summary().queues(0).queue(), v1::POSTFIX_DEFERRED);

  v1::WatchEvent heartbeat = Heartbeat("i1", 11);
  *heartbeat.mutable_heartbeat()->mutable_summary()->add_queues() =
      Stats(v1::POSTFIX_DEFERRED, 5);
  heartbeat.mutable_heartbeat()->mutable_summary()->set_total_messages(5);
  ASSERT_TRUE(view.Apply(heartbeat).ok());
  EXPECT_EQ(view.summary().queues(0).messages(), 5);
  EXPECT_EQ(view.summary().total_messages(), 5);
}

TEST(SummaryUpdateTest, QueuesAreReplacedByKindAddedInOrderAndDroppedAtZero) {
  v1::QueueSummary summary =
      Summary({Stats(v1::POSTFIX_INCOMING, 2), Stats(v1::POSTFIX_DEFERRED, 3),
               Stats(v1::MPA_ERROR, 1)});
  v1::SummaryUpdate update;
  *update.add_queues() = Stats(v1::POSTFIX_DEFERRED, 7);
  *update.add_queues() = Stats(v1::POSTFIX_HOLD, 4);      // New, in the middle.
  *update.add_queues() = Stats(v1::POSTFIX_INCOMING, 0);  // Emptied.
  *update.add_queues() = Stats(v1::POSTFIX_ACTIVE, 0);    // Empty, not held.
  *update.add_queues() = Stats(v1::POSTFIX_MAILDROP, 1);  // New, first.
  ApplySummaryUpdate(update, &summary);
  std::vector<std::pair<int, int64_t>> queues;
  for (const v1::QueueStats& stats : summary.queues()) {
    queues.emplace_back(stats.queue(), stats.messages());
  }
  EXPECT_EQ(queues,
            (std::vector<std::pair<int, int64_t>>{{v1::POSTFIX_MAILDROP, 1},
                                                  {v1::POSTFIX_DEFERRED, 7},
                                                  {v1::POSTFIX_HOLD, 4},
                                                  {v1::MPA_ERROR, 1}}));
  EXPECT_EQ(summary.queues(1).bytes(), 7000);
}

TEST(SummaryUpdateTest, ScalarsAreAlwaysReplaced) {
  v1::QueueSummary summary = Summary({Stats(v1::POSTFIX_DEFERRED, 3)});
  summary.mutable_oldest_arrival()->set_seconds(1000);
  summary.set_oldest_queue_id("A1");
  summary.set_scan_problem_count(2);
  summary.add_scan_problems()->set_queue_id("BAD1");
  summary.add_age_bucket_bounds()->set_seconds(300);

  v1::SummaryUpdate update;
  update.set_total_messages(2);
  update.set_total_bytes(2000);
  update.mutable_oldest_arrival()->set_seconds(2000);
  update.set_oldest_queue_id("B2");
  update.set_scan_problem_count(3);
  ApplySummaryUpdate(update, &summary);
  EXPECT_EQ(summary.total_messages(), 2);
  EXPECT_EQ(summary.total_bytes(), 2000);
  EXPECT_EQ(summary.oldest_arrival().seconds(), 2000);
  EXPECT_EQ(summary.oldest_queue_id(), "B2");
  EXPECT_EQ(summary.scan_problem_count(), 3);
  // Not in updates: kept from the snapshot.
  EXPECT_EQ(summary.scan_problems_size(), 1);
  EXPECT_EQ(summary.age_bucket_bounds_size(), 1);

  // Zeros and an absent oldest message are values too: the queue emptied.
  ApplySummaryUpdate(v1::SummaryUpdate(), &summary);
  EXPECT_EQ(summary.total_messages(), 0);
  EXPECT_EQ(summary.total_bytes(), 0);
  EXPECT_FALSE(summary.has_oldest_arrival());
  EXPECT_EQ(summary.oldest_queue_id(), "");
  EXPECT_EQ(summary.scan_problem_count(), 0);
  EXPECT_EQ(summary.scan_problems_size(), 0);
}

TEST(SummaryUpdateTest, TopListsAreReplacedWholeOnlyWhenPresent) {
  v1::QueueSummary summary;
  v1::DomainCount* domain = summary.add_top_domains();
  domain->set_domain("example.net");
  domain->set_recipients(5);
  summary.add_top_delay_reasons()->set_reason("connection refused");

  v1::SummaryUpdate update;
  ApplySummaryUpdate(update, &summary);
  EXPECT_EQ(summary.top_domains_size(), 1);
  EXPECT_EQ(summary.top_delay_reasons_size(), 1);

  v1::DomainCount* first = update.mutable_top_domains()->add_domains();
  first->set_domain("example.org");
  first->set_recipients(9);
  update.mutable_top_domains()->add_domains()->set_domain("example.com");
  ApplySummaryUpdate(update, &summary);
  ASSERT_EQ(summary.top_domains_size(), 2);
  EXPECT_EQ(summary.top_domains(0).domain(), "example.org");
  EXPECT_EQ(summary.top_domains(1).domain(), "example.com");
  EXPECT_EQ(summary.top_delay_reasons_size(), 1);

  // Present and empty: there are none now.
  update.clear_top_domains();
  update.mutable_top_delay_reasons();
  ApplySummaryUpdate(update, &summary);
  EXPECT_EQ(summary.top_domains_size(), 2);
  EXPECT_EQ(summary.top_delay_reasons_size(), 0);
}

}  // namespace
}  // namespace mailfleet
