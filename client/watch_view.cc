#include "client/watch_view.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/queue_kind_proto.h"

namespace mailfleet {
namespace {

void AddMessages(const v1::WatchSnapshot& part, WatchView::MessageMap* map) {
  for (const v1::Message& message : part.messages()) {
    (*map)[WatchView::KeyOf(message)] = message;
  }
}

}  // namespace

WatchView::MessageKey WatchView::KeyOf(const v1::Message& message) {
  return {ProtoQueueSource(message.queue()) == QueueSource::kMpa, message.queue_id()};
}

void ApplySummaryUpdate(const v1::SummaryUpdate& update,
                        v1::QueueSummary* summary) {
  auto* queues = summary->mutable_queues();
  for (const v1::QueueStats& stats : update.queues()) {
    auto found = std::find_if(queues->begin(), queues->end(),
                              [&stats](const v1::QueueStats& held) {
                                return held.queue() == stats.queue();
                              });
    if (stats.messages() == 0) {
      if (found != queues->end()) queues->erase(found);
    } else if (found != queues->end()) {
      *found = stats;
    } else {
      // In queue order, as the agent lists them.
      auto after = std::find_if(queues->begin(), queues->end(),
                                [&stats](const v1::QueueStats& held) {
                                  return held.queue() > stats.queue();
                                });
      const int at = static_cast<int>(after - queues->begin());
      *queues->Add() = stats;
      for (int i = queues->size() - 1; i > at; --i)
        queues->SwapElements(i, i - 1);
    }
  }
  summary->set_total_messages(update.total_messages());
  summary->set_total_bytes(update.total_bytes());
  if (update.has_oldest_arrival()) {
    *summary->mutable_oldest_arrival() = update.oldest_arrival();
  } else {
    summary->clear_oldest_arrival();
  }
  summary->set_oldest_queue_id(update.oldest_queue_id());
  summary->set_oldest_queue(update.oldest_queue());
  summary->set_scan_problem_count(update.scan_problem_count());
  if (update.scan_problem_count() == 0) summary->clear_scan_problems();
  if (update.has_top_domains()) {
    *summary->mutable_top_domains() = update.top_domains().domains();
  }
  if (update.has_top_delay_reasons()) {
    *summary->mutable_top_delay_reasons() =
        update.top_delay_reasons().reasons();
  }
  if (update.has_mpa_throttle()) {
    *summary->mutable_mpa_throttle() = update.mpa_throttle();
  }
}

absl::Status WatchView::Apply(const v1::WatchEvent& event) {
  absl::Status status;
  switch (event.event_case()) {
    case v1::WatchEvent::kSnapshot:
      status = ApplySnapshotPart(event);
      break;
    case v1::WatchEvent::kDelta:
      status = ApplyDelta(event);
      break;
    case v1::WatchEvent::kHeartbeat:
      status = ApplyHeartbeat(event);
      break;
    case v1::WatchEvent::EVENT_NOT_SET:
      // A kind of event this build does not know, from a newer agent.
      return absl::OkStatus();
  }
  if (status.ok()) time_ = event.time();
  return status;
}

absl::Status WatchView::ApplySnapshotPart(const v1::WatchEvent& event) {
  const v1::WatchSnapshot& part = event.snapshot();
  if (pending_ == nullptr) {
    // A snapshot's first part. Of the same instance, it cannot go back.
    if (synced_ && event.instance_id() == instance_id_ &&
        event.generation() < generation_) {
      return absl::FailedPreconditionError(absl::StrCat(
          "watch: snapshot of generation ", event.generation(),
          " is older than generation ", generation_, " already seen"));
    }
    pending_ = std::make_unique<PendingSnapshot>();
    pending_->instance_id = event.instance_id();
    pending_->generation = event.generation();
    pending_->reason = part.reason();
    pending_->agent = part.agent();
    pending_->summary = part.summary();
  } else if (event.instance_id() != pending_->instance_id ||
             event.generation() != pending_->generation) {
    return absl::FailedPreconditionError(absl::StrCat(
        "watch: snapshot part of instance ", event.instance_id(),
        " generation ", event.generation(), " while receiving the one of ",
        pending_->instance_id, " generation ", pending_->generation));
  }
  if (track_messages_) AddMessages(part, &pending_->messages);
  if (!part.last()) return absl::OkStatus();

  if (synced_ && pending_->instance_id != instance_id_) ++restarts_;
  instance_id_ = std::move(pending_->instance_id);
  generation_ = pending_->generation;
  agent_ = std::move(pending_->agent);
  reason_ = pending_->reason;
  summary_ = std::move(pending_->summary);
  messages_ = std::move(pending_->messages);
  pending_.reset();
  synced_ = true;
  ++snapshots_;
  return absl::OkStatus();
}

absl::Status WatchView::CheckFollowsSnapshot(
    const v1::WatchEvent& event) const {
  const char* what = event.has_delta() ? "delta" : "heartbeat";
  if (pending_ != nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("watch: ", what, " before the last part of a snapshot"));
  }
  if (!synced_) {
    return absl::FailedPreconditionError(
        absl::StrCat("watch: ", what, " before any snapshot"));
  }
  if (event.instance_id() != instance_id_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "watch: ", what, " from agent instance ", event.instance_id(),
        " without a snapshot (instance ", instance_id_, " before)"));
  }
  return absl::OkStatus();
}

absl::Status WatchView::ApplyDelta(const v1::WatchEvent& event) {
  if (absl::Status status = CheckFollowsSnapshot(event); !status.ok()) {
    return status;
  }
  if (event.generation() <= generation_) {
    return absl::FailedPreconditionError(
        absl::StrCat("watch: delta of generation ", event.generation(),
                     " does not follow generation ", generation_));
  }
  const v1::WatchDelta& delta = event.delta();
  if (track_messages_) {
    for (const v1::MessageChange& change : delta.changes()) ApplyChange(change);
  }
  if (delta.has_summary()) ApplySummaryUpdate(delta.summary(), &summary_);
  generation_ = event.generation();
  agent_.set_generation(generation_);
  return absl::OkStatus();
}

absl::Status WatchView::ApplyHeartbeat(const v1::WatchEvent& event) {
  if (absl::Status status = CheckFollowsSnapshot(event); !status.ok()) {
    return status;
  }
  // Changes the watch's filter does not select move the generation on
  // without a delta.
  if (event.generation() < generation_) {
    return absl::FailedPreconditionError(
        absl::StrCat("watch: heartbeat of generation ", event.generation(),
                     " is older than generation ", generation_));
  }
  const v1::WatchHeartbeat& heartbeat = event.heartbeat();
  if (heartbeat.has_summary()) {
    ApplySummaryUpdate(heartbeat.summary(), &summary_);
  }
  generation_ = event.generation();
  agent_.set_generation(generation_);
  return absl::OkStatus();
}

void WatchView::ApplyChange(const v1::MessageChange& change) {
  // A message never changes sides: either queue tells which it is on.
  const MessageKey key(
      ProtoQueueSource(change.to_queue() != v1::QUEUE_KIND_UNSPECIFIED
                           ? change.to_queue()
                           : change.from_queue()) == QueueSource::kMpa,
      change.queue_id());
  switch (change.kind()) {
    case v1::MessageChange::REMOVED:
      messages_.erase(key);
      return;
    case v1::MessageChange::ADDED:
    case v1::MessageChange::MOVED:
    case v1::MessageChange::CHANGED: {
      v1::Message& held = messages_[key];
      if (change.has_message()) {
        held = change.message();
      } else if (change.to_queue() != v1::QUEUE_KIND_UNSPECIFIED) {
        held.set_queue(change.to_queue());
      }
      held.set_queue_id(change.queue_id());
      return;
    }
    default:
      // A kind this build does not know: nothing to go by.
      return;
  }
}

}  // namespace mailfleet
