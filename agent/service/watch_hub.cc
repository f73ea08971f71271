#include "agent/service/watch_hub.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/service/proto_convert.h"
#include "spdlog/spdlog.h"

namespace mailfleet {
namespace {

// Summaries for heartbeats are shared for this long: ages move in minutes.
constexpr absl::Duration kHeartbeatSummaryAge = absl::Seconds(5);
// A filter's summary is computed at most this often while the queue changes.
constexpr absl::Duration kSummaryInterval = absl::Seconds(1);

v1::MessageChange::Kind ToProto(IndexChange::Kind kind) {
  switch (kind) {
    case IndexChange::Kind::kAdded: return v1::MessageChange::ADDED;
    case IndexChange::Kind::kRemoved: return v1::MessageChange::REMOVED;
    case IndexChange::Kind::kMoved: return v1::MessageChange::MOVED;
    case IndexChange::Kind::kChanged: return v1::MessageChange::CHANGED;
  }
  return v1::MessageChange::KIND_UNSPECIFIED;
}

// Finishes a call that never started streaming.
class RefusedWatch : public grpc::ServerWriteReactor<v1::WatchEvent> {
 public:
  explicit RefusedWatch(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

// One Watch stream. What it has been sent (summary, started) belongs to the
// hub's thread under watchers_mu_; its outbox and the write in flight to
// its own mutex, since gRPC's threads complete the writes.
class WatchHub::Watcher : public grpc::ServerWriteReactor<v1::WatchEvent> {
 public:
  Watcher(WatchHub* hub, Filter filter, const v1::WatchRequest& request,
          size_t top_n, absl::Duration heartbeat)
      : filter(std::move(filter)),
        summary_key(absl::StrCat(top_n, ":", request.filter().SerializeAsString())),
        top_n(top_n),
        include_messages(request.include_messages()),
        heartbeat(heartbeat),
        hub_(hub) {}

  // Immutable.
  const Filter filter;
  const std::string summary_key;
  const size_t top_n;
  const bool include_messages;
  const absl::Duration heartbeat;
  // The hub thread's, under watchers_mu_.
  bool started = false;
  QueueSummary sent_summary;
  // The last delta went without the summary's changes.
  bool summary_behind = false;
  absl::Time last_resync_logged = absl::InfinitePast();

  // Replaces whatever is queued with a snapshot of `snapshot`.
  void StartSnapshot(std::shared_ptr<const QueueSnapshot> snapshot,
                     v1::WatchEvent first_part) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    reason_ = first_part.snapshot().reason();
    outbox_.clear();
    outbox_bytes_ = 0;
    snapshot_ = std::move(snapshot);
    cursor_.reset();
    first_part_ = std::move(first_part);
    first_pending_ = true;
    WriteNextLocked();
  }

  // False when the outbox is full: the caller resynchronises.
  bool Post(v1::WatchEvent event) {
    absl::MutexLock lock(&mu_);
    if (finished_) return true;
    size_t bytes = event.ByteSizeLong();
    if (outbox_.size() >= hub_->options_.max_outbox_events ||
        outbox_bytes_ + bytes > hub_->options_.max_outbox_bytes) {
      return false;
    }
    outbox_bytes_ += bytes;
    outbox_.push_back(std::move(event));
    WriteNextLocked();
    return true;
  }

  // Nothing queued or being written, and nothing sent for `heartbeat`.
  bool IdleSince(absl::Time now) {
    absl::MutexLock lock(&mu_);
    return !writing_ && outbox_.empty() && snapshot_ == nullptr &&
           now - last_write_ >= heartbeat;
  }

  // For Shutdown: true if the caller is to Finish this stream now (after
  // letting go of its locks); otherwise the write in flight ends it.
  bool ClaimFinish() {
    absl::MutexLock lock(&mu_);
    ending_ = true;
    if (finished_ || writing_) return false;
    finished_ = true;
    return true;
  }

  void OnWriteDone(bool ok) override {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok || ending_) {
        if (!finished_) finish = finished_ = true;
      } else {
        WriteNextLocked();
      }
    }
    if (finish) FinishNow();
  }

  void OnCancel() override {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      ending_ = true;
      if (!finished_ && !writing_) finish = finished_ = true;
    }
    if (finish) FinishNow();
  }

  void OnDone() override {
    hub_->Remove(this);
    delete this;
  }

 private:
  void FinishNow() {
    Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "the watch ended: the agent is shutting down or the "
                        "client went away"));
  }

  // Starts the next write: the snapshot's next part first, then the outbox.
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_ || ending_) return;
    if (snapshot_ != nullptr) {
      NextSnapshotPartLocked(&current_);
    } else if (!outbox_.empty()) {
      current_ = std::move(outbox_.front());
      outbox_.pop_front();
      outbox_bytes_ -= std::min(outbox_bytes_, current_.ByteSizeLong());
    } else {
      return;
    }
    writing_ = true;
    last_write_ = absl::Now();
    StartWrite(&current_);
  }

  void NextSnapshotPartLocked(v1::WatchEvent* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (first_pending_) {
      *out = std::move(first_part_);
      first_pending_ = false;
    } else {
      out->Clear();
      out->set_instance_id(first_instance_);
      out->set_generation(snapshot_->generation());
      SetTimestamp(absl::Now(), out->mutable_time());
    }
    first_instance_ = out->instance_id();
    v1::WatchSnapshot* part = out->mutable_snapshot();
    part->set_reason(reason_);
    if (include_messages) {
      cursor_ = snapshot_->List(filter, absl::Now(), cursor_ ? &*cursor_ : nullptr,
                                hub_->options_.snapshot_part_messages,
                                [part](const QueueSnapshot::View& v) {
                                  ToProto(v, part->add_messages());
                                });
    }
    part->set_last(!cursor_);
    if (!cursor_) snapshot_.reset();
  }

  WatchHub* const hub_;
  absl::Mutex mu_;
  std::deque<v1::WatchEvent> outbox_ ABSL_GUARDED_BY(mu_);
  size_t outbox_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<const QueueSnapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  std::optional<ListCursor> cursor_ ABSL_GUARDED_BY(mu_);
  v1::WatchEvent first_part_ ABSL_GUARDED_BY(mu_);
  bool first_pending_ ABSL_GUARDED_BY(mu_) = false;
  v1::WatchSnapshot::Reason reason_ ABSL_GUARDED_BY(mu_) =
      v1::WatchSnapshot::REASON_INITIAL;
  std::string first_instance_ ABSL_GUARDED_BY(mu_);
  v1::WatchEvent current_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool ending_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_write_ ABSL_GUARDED_BY(mu_) = absl::Now();
};

WatchHub::WatchHub(QueueIndex* index, v1::AgentInfo agent_info,
                   WatchHubOptions options)
    : index_(index), agent_info_(std::move(agent_info)), options_(options) {
  // Listening first: a batch published between the two is both in the
  // snapshot and queued, and skipped by its generation.
  listener_ = index_->AddListener(
      [this](std::shared_ptr<const IndexBatch> batch) { OnBatch(std::move(batch)); });
  {
    absl::MutexLock lock(&watchers_mu_);
    current_ = index_->Current();
  }
  thread_ = std::thread([this] { Run(); });
}

WatchHub::~WatchHub() {
  Shutdown();
  index_->RemoveListener(listener_);
  {
    absl::MutexLock lock(&queue_mu_);
    stopping_ = true;
  }
  thread_.join();
}

int WatchHub::watcher_count() const {
  absl::MutexLock lock(&watchers_mu_);
  return static_cast<int>(watchers_.size());
}

void WatchHub::OnBatch(std::shared_ptr<const IndexBatch> batch) {
  absl::MutexLock lock(&queue_mu_);
  batches_.push_back(std::move(batch));
}

grpc::ServerWriteReactor<v1::WatchEvent>* WatchHub::Open(
    grpc::CallbackServerContext* context, const v1::WatchRequest* request) {
  auto refuse = [](grpc::StatusCode code, std::string why) {
    return new RefusedWatch(grpc::Status(code, std::move(why)));
  };
  auto filter = CompileFilter(request->filter());
  if (!filter.ok()) {
    return refuse(grpc::StatusCode::INVALID_ARGUMENT,
                  std::string(filter.status().message()));
  }
  auto top_n = TopNFromProto(request->top_n());
  if (!top_n.ok()) {
    return refuse(grpc::StatusCode::INVALID_ARGUMENT,
                  std::string(top_n.status().message()));
  }
  absl::Duration heartbeat = kDefaultHeartbeat;
  if (request->has_heartbeat_interval()) {
    auto interval = FromProto(request->heartbeat_interval(), "heartbeat_interval");
    if (interval.ok() && (*interval < kMinHeartbeat || *interval > kMaxHeartbeat)) {
      interval = absl::InvalidArgumentError(
          "heartbeat_interval must be between 1s and 10m");
    }
    if (!interval.ok()) {
      return refuse(grpc::StatusCode::INVALID_ARGUMENT,
                    std::string(interval.status().message()));
    }
    heartbeat = *interval;
  }
  absl::MutexLock lock(&watchers_mu_);
  if (shut_down_) {
    return refuse(grpc::StatusCode::UNAVAILABLE, "the agent is shutting down");
  }
  if (static_cast<int>(watchers_.size()) >= options_.max_watchers) {
    return refuse(grpc::StatusCode::RESOURCE_EXHAUSTED,
                  absl::StrCat("the agent serves ", options_.max_watchers,
                               " watchers at most; try again later"));
  }
  auto* w = new Watcher(this, *std::move(filter), *request, *top_n, heartbeat);
  watchers_.push_back(w);
  {
    absl::MutexLock queue_lock(&queue_mu_);
    wake_ = true;
  }
  return w;
}

void WatchHub::Remove(Watcher* w) {
  absl::MutexLock lock(&watchers_mu_);
  watchers_.erase(std::remove(watchers_.begin(), watchers_.end(), w),
                  watchers_.end());
}

void WatchHub::Shutdown() {
  std::vector<Watcher*> to_finish;
  {
    absl::MutexLock lock(&watchers_mu_);
    shut_down_ = true;
    for (Watcher* w : watchers_) {
      if (w->ClaimFinish()) to_finish.push_back(w);
    }
  }
  // Not yet finished, so still alive: OnDone comes only after Finish.
  for (Watcher* w : to_finish) {
    w->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                           "the agent is shutting down"));
  }
}

const QueueSummary* WatchHub::SummaryFor(const Watcher& w,
                                         const QueueSnapshot& snapshot,
                                         absl::Time now, SummaryNeed need) {
  CachedSummary& c = summaries_[w.summary_key];
  const bool same = c.generation == snapshot.generation();
  const absl::Duration age = now - c.computed;
  const absl::Duration reuse =
      need == SummaryNeed::kHeartbeat ? kHeartbeatSummaryAge : kSummaryInterval;
  if (same && age < reuse) return &c.summary;
  // Summarising a large queue takes milliseconds: while it changes, once
  // a second per filter, whatever the number of batches.
  if (need != SummaryNeed::kExact && age < kSummaryInterval) return nullptr;
  c.generation = snapshot.generation();
  c.computed = now;
  c.summary = index_->Summarize(snapshot, w.filter, now, w.top_n);
  return &c.summary;
}

bool WatchHub::UpdateSummaryLocked(Watcher* w, const QueueSnapshot& snapshot,
                                   absl::Time now, SummaryNeed need,
                                   v1::SummaryUpdate* out) {
  const QueueSummary* summary = SummaryFor(*w, snapshot, now, need);
  w->summary_behind = summary == nullptr;
  if (summary == nullptr || !ToProtoUpdate(w->sent_summary, *summary, out)) {
    return false;
  }
  w->sent_summary = *summary;
  return true;
}

void WatchHub::StartSnapshotLocked(Watcher* w, int reason) {
  const absl::Time now = absl::Now();
  v1::WatchEvent first;
  first.set_instance_id(index_->instance_id());
  first.set_generation(current_->generation());
  SetTimestamp(now, first.mutable_time());
  v1::WatchSnapshot* snapshot = first.mutable_snapshot();
  snapshot->set_reason(static_cast<v1::WatchSnapshot::Reason>(reason));
  v1::AgentInfo* agent = snapshot->mutable_agent();
  *agent = agent_info_;
  agent->set_instance_id(index_->instance_id());
  agent->set_generation(current_->generation());
  SetTimestamp(current_->scan_time(), agent->mutable_last_scan_time());
  SetDuration(current_->scan_duration(), agent->mutable_last_scan_duration());
  // Watchers that join together share one summary.
  w->sent_summary = *SummaryFor(*w, *current_, now, SummaryNeed::kExact);
  w->summary_behind = false;
  ToProto(w->sent_summary, now, snapshot->mutable_summary());
  w->started = true;
  w->StartSnapshot(current_, std::move(first));
}

void WatchHub::PostLocked(Watcher* w, v1::WatchEvent event) {
  if (w->Post(std::move(event))) return;
  // A watcher that stays behind is resynchronised again and again, each
  // time replacing the snapshot it has not taken yet: logged once a minute.
  const absl::Time now = absl::Now();
  if (now - w->last_resync_logged >= absl::Minutes(1)) {
    w->last_resync_logged = now;
    spdlog::info("a watcher fell behind by more than {} events or {} KiB; "
                 "sending it a fresh snapshot",
                 options_.max_outbox_events, options_.max_outbox_bytes / 1024);
  }
  StartSnapshotLocked(w, v1::WatchSnapshot::REASON_RESYNC);
}

void WatchHub::DeliverLocked(const IndexBatch& batch) {
  const QueueSnapshot& before = *batch.before;
  const QueueSnapshot& after = *batch.after;
  // Each changed message on either side, looked up once for all watchers.
  struct Sides {
    std::optional<QueueSnapshot::View> was, is;
  };
  std::vector<Sides> sides(batch.changes.size());
  for (size_t i = 0; i < batch.changes.size(); ++i) {
    const IndexChange& c = batch.changes[i];
    if (c.kind != IndexChange::Kind::kAdded) sides[i].was = before.Find(c.source, c.queue_id);
    if (c.kind != IndexChange::Kind::kRemoved) sides[i].is = after.Find(c.source, c.queue_id);
  }
  for (Watcher* w : watchers_) {
    if (!w->started) continue;
    v1::WatchEvent event;
    v1::WatchDelta* delta = event.mutable_delta();
    for (size_t i = 0; i < batch.changes.size(); ++i) {
      const IndexChange& c = batch.changes[i];
      const auto& [was, is] = sides[i];
      const bool matched = was && w->filter.Matches(*was, batch.time);
      const bool matches = is && w->filter.Matches(*is, batch.time);
      if (!matched && !matches) continue;
      v1::MessageChange* change = delta->add_changes();
      SetText(c.queue_id, change->mutable_queue_id());
      if (!matched) {
        change->set_kind(v1::MessageChange::ADDED);
      } else if (!matches) {
        change->set_kind(v1::MessageChange::REMOVED);
      } else {
        change->set_kind(ToProto(c.kind));
      }
      if (matched) change->set_from_queue(ToProto(was->queue_kind()));
      if (matches) {
        change->set_to_queue(ToProto(is->queue_kind()));
        if (w->include_messages) ToProto(*is, change->mutable_message());
      }
    }
    if (delta->changes_size() == 0) continue;
    if (!UpdateSummaryLocked(w, after, batch.time, SummaryNeed::kThrottled,
                             delta->mutable_summary())) {
      delta->clear_summary();
    }
    event.set_instance_id(index_->instance_id());
    event.set_generation(batch.generation);
    SetTimestamp(batch.time, event.mutable_time());
    PostLocked(w, std::move(event));
  }
}

void WatchHub::HeartbeatsLocked(absl::Time now) {
  for (Watcher* w : watchers_) {
    if (!w->started) continue;
    // Half a tick early rather than a whole tick late.
    const bool idle = w->IdleSince(now + options_.tick / 2);
    if (!idle && !w->summary_behind) continue;
    v1::WatchEvent event;
    v1::WatchHeartbeat* heartbeat = event.mutable_heartbeat();
    const bool updated =
        UpdateSummaryLocked(w, *current_, now,
                            idle ? SummaryNeed::kHeartbeat : SummaryNeed::kThrottled,
                            heartbeat->mutable_summary());
    if (!updated) heartbeat->clear_summary();
    if (!idle && !updated) continue;
    event.set_instance_id(index_->instance_id());
    event.set_generation(current_->generation());
    SetTimestamp(now, event.mutable_time());
    PostLocked(w, std::move(event));
  }
}

void WatchHub::Run() {
  absl::Time next_tick = absl::Now() + options_.tick;
  for (;;) {
    std::deque<std::shared_ptr<const IndexBatch>> batches;
    {
      absl::MutexLock lock(&queue_mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(queue_mu_) {
        return stopping_ || wake_ || !batches_.empty();
      };
      queue_mu_.AwaitWithDeadline(absl::Condition(&ready), next_tick);
      if (stopping_) return;
      wake_ = false;
      batches.swap(batches_);
    }
    absl::MutexLock lock(&watchers_mu_);
    // A rescan that found nothing new replaced the index's snapshot with an
    // equal one without a batch: take it, so that the old one is freed.
    if (auto latest = index_->Current(); latest->generation() == current_->generation()) {
      current_ = std::move(latest);
    }
    // Newcomers start from the snapshot every delta so far leads to.
    for (Watcher* w : watchers_) {
      if (!w->started) StartSnapshotLocked(w, v1::WatchSnapshot::REASON_INITIAL);
    }
    // Batches that queued up while the hub was busy go out as one.
    std::vector<std::shared_ptr<const IndexBatch>> fresh;
    for (auto& batch : batches) {
      if (batch->generation > current_->generation()) fresh.push_back(std::move(batch));
    }
    batches.clear();
    if (!fresh.empty()) {
      std::shared_ptr<const IndexBatch> batch = MergeBatches(fresh);
      fresh.clear();
      current_ = batch->after;
      DeliverLocked(*batch);
    }
    const absl::Time now = absl::Now();
    // Summaries nobody asked for a while.
    for (auto it = summaries_.begin(); it != summaries_.end();) {
      if (now - it->second.computed > absl::Minutes(1)) {
        summaries_.erase(it++);
      } else {
        ++it;
      }
    }
    if (now >= next_tick) {
      HeartbeatsLocked(now);
      next_tick = now + options_.tick;
    }
  }
}

}  // namespace mailfleet
