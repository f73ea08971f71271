#include "agent/index/queue_index.h"

#include <malloc.h>

#include <random>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/fmt_absl.h"
#include "spdlog/spdlog.h"

namespace mailfleet {
namespace {

constexpr size_t kLoggedProblems = 20;
constexpr size_t kLoggedDrift = 10;
// Past this, the strings of messages added since the last scan are copied
// into fresh tables without those of messages gone since.
constexpr size_t kMaxExtensionBytes = 64 << 20;

std::string NewInstanceId() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  return absl::StrFormat("%016x", gen());
}

const char* KindName(IndexChange::Kind kind) {
  switch (kind) {
    case IndexChange::Kind::kAdded: return "added";
    case IndexChange::Kind::kRemoved: return "removed";
    case IndexChange::Kind::kMoved: return "moved";
    case IndexChange::Kind::kChanged: return "changed";
  }
  return "?";
}

}  // namespace

std::shared_ptr<const IndexBatch> MergeBatches(
    const std::vector<std::shared_ptr<const IndexBatch>>& batches) {
  if (batches.size() == 1) return batches[0];
  auto merged = std::make_shared<IndexBatch>();
  merged->generation = batches.back()->generation;
  merged->time = batches.back()->time;
  merged->before = batches.front()->before;
  merged->after = batches.back()->after;
  absl::flat_hash_set<MessageKeyRef> seen;
  std::vector<MessageKeyRef> keys;
  for (const auto& b : batches) {
    merged->rescan = merged->rescan || b->rescan;
    for (const IndexChange& c : b->changes) {
      MessageKeyRef key(c.source, c.queue_id);
      if (seen.insert(key).second) keys.push_back(key);
    }
  }
  merged->changes = QueueSnapshot::Diff(*merged->before, *merged->after, keys);
  return merged;
}

QueueIndex::QueueIndex(const postfix::QueueReader* reader,
                       const mpa::SpoolReader* spool, mpa::ThrottleLimits limits)
    : reader_(reader),
      spool_(spool),
      limits_(limits),
      instance_id_(NewInstanceId()),
      current_(QueueSnapshot::Build(postfix::ScanResult{}, 0)) {}

std::shared_ptr<const QueueSnapshot> QueueIndex::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

int QueueIndex::AddListener(Listener listener) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_.emplace_back(next_listener_, std::move(listener));
  return next_listener_++;
}

void QueueIndex::RemoveListener(int handle) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_.erase(std::remove_if(listeners_.begin(), listeners_.end(),
                                  [&](const auto& l) { return l.first == handle; }),
                   listeners_.end());
}

void QueueIndex::PublishLocked(std::shared_ptr<const QueueSnapshot> before,
                               std::shared_ptr<const QueueSnapshot> next,
                               std::vector<IndexChange> changes, bool rescan) {
  auto batch = std::make_shared<IndexBatch>();
  batch->generation = next->generation();
  batch->time = absl::Now();
  batch->before = std::move(before);
  batch->after = next;
  batch->changes = std::move(changes);
  batch->rescan = rescan;
  spdlog::debug("generation {}: {} messages changed{}", batch->generation,
                batch->changes.size(), rescan ? " (rescan)" : "");
  {
    absl::MutexLock lock(&mu_);
    current_ = std::move(next);
  }
  absl::MutexLock lock(&listeners_mu_);
  for (const auto& [handle, listener] : listeners_) listener(batch);
}

absl::Status QueueIndex::Rescan(
    const std::function<absl::flat_hash_set<MessageKey>()>& changed_meanwhile,
    bool expect_drift) {
  absl::MutexLock writer_lock(&writer_mu_);
  QueueSnapshot::Builder builder(reader_->threads());
  absl::StatusOr<postfix::ScanStats> stats = reader_->Scan(builder.sinks());
  if (!stats.ok()) {
    spdlog::error("queue scan failed: {}", stats.status());
    return stats.status();
  }
  if (spool_ != nullptr) {
    // The spool is small by the MPA's own limits (thousands of items, not
    // millions): one thread reads it while the parts are idle.
    absl::Status spooled = spool_->Scan(builder.sinks()[0]);
    if (!spooled.ok()) {
      spdlog::error("MPA spool scan failed: {}", spooled);
      return spooled;
    }
    stats->duration = absl::Now() - stats->started;
  }
  auto built = builder.Finish(generation_ + 1, stats->started, stats->duration);
  if (!built.ok()) {
    spdlog::error("queue index not rebuilt: {}", built.status());
    return built.status();
  }
  std::shared_ptr<QueueSnapshot> snapshot = *std::move(built);
  std::shared_ptr<const QueueSnapshot> before = Current();
  std::vector<IndexChange> changes = QueueSnapshot::Diff(*before, *snapshot);
  const bool first = !scanned_;
  scanned_ = true;
  size_t drift = 0;
  if (!first && !changes.empty()) {
    absl::flat_hash_set<MessageKey> meanwhile;
    if (changed_meanwhile) meanwhile = changed_meanwhile();
    for (const IndexChange& c : changes) {
      if (meanwhile.contains(MessageKey(c.source, c.queue_id))) continue;
      if (drift++ < kLoggedDrift && !expect_drift) {
        spdlog::warn("rescan: {} {} ({} -> {}) was not in the live index",
                     c.queue_id, KindName(c.kind), QueueKindName(c.from),
                     QueueKindName(c.to));
      }
    }
    if (drift > 0 && expect_drift) {
      spdlog::info("rescan after lost events: {} messages had changed", drift);
    } else if (drift > 0) {
      spdlog::warn("rescan corrected {} messages the live index had missed",
                   drift);
    }
  }
  if (changes.empty()) {
    snapshot->set_generation(generation_);
  } else {
    ++generation_;
  }
  // The first few problems of every scan go to the log; Summary has them
  // all counted.
  const auto& problem_list = snapshot->problems();
  for (size_t i = 0; i < problem_list.size() && i < kLoggedProblems; ++i) {
    const auto& p = problem_list[i];
    spdlog::warn("{} {}: {}", QueueKindName(p.queue), p.queue_id, p.reason);
  }
  const size_t problems = problem_list.size();
  const size_t count = snapshot->size();
  const size_t current_bytes = snapshot->MemoryBytes();
  const size_t changed = changes.size();
  if (changes.empty()) {
    // Same messages, fresh tables: nothing for the listeners.
    absl::MutexLock lock(&mu_);
    current_ = std::move(snapshot);
  } else {
    PublishLocked(std::move(before), std::move(snapshot), std::move(changes),
                  /*rescan=*/true);
  }
  before.reset();
  // The scan's transient records are freed by now; give the pages back so
  // the agent's footprint is the index, not the scan's high-water mark.
  malloc_trim(0);
  auto log_level = first ? spdlog::level::info : spdlog::level::debug;
  spdlog::log(log_level,
              "indexed {} messages in {} (scan {}), {} changed, {} problems, "
              "{} KiB, generation {}",
              count, absl::FormatDuration(absl::Now() - stats->started),
              absl::FormatDuration(stats->duration), changed, problems,
              current_bytes / 1024, generation_);
  if (scan_observer_) scan_observer_(ScanReport{absl::Now() - stats->started, drift});
  return absl::OkStatus();
}

void QueueIndex::SetScanObserver(std::function<void(const ScanReport&)> observer) {
  absl::MutexLock writer_lock(&writer_mu_);
  scan_observer_ = std::move(observer);
}

void QueueIndex::Refresh(const std::vector<RefreshTarget>& targets) {
  absl::MutexLock writer_lock(&writer_mu_);
  std::shared_ptr<const QueueSnapshot> before = Current();
  std::vector<Message> messages;
  std::vector<QueueSnapshot::EntryUpdate> updates;
  std::vector<MessageKeyRef> keys;
  absl::flat_hash_set<MessageKeyRef> seen;
  for (const RefreshTarget& t : targets) {
    const MessageKeyRef key(t.source, t.queue_id);
    if (!seen.insert(key).second) continue;
    if (t.source == QueueSource::kMpa && spool_ == nullptr) continue;
    std::optional<QueueSnapshot::View> old = before->Find(key);
    std::optional<QueueKind> hint = t.hint;
    if (!hint && old) hint = old->queue_kind();
    absl::StatusOr<Message> now = ReadAgain(t, hint);
    if (!now.ok() && !absl::IsNotFound(now.status())) {
      spdlog::debug("{} not read again: {}", t.queue_id, now.status());
      continue;
    }
    keys.push_back(key);
    if (!now.ok()) {
      if (old) {
        updates.push_back({t.queue_id, std::nullopt, std::nullopt, false, t.source});
      }
      continue;
    }
    if (!old || !QueueSnapshot::SameEnvelope(*old, *now)) {
      messages.push_back(*std::move(now));
      continue;
    }
    std::optional<absl::Time> next_attempt;
    if (now->next_attempt_time != absl::InfinitePast()) {
      next_attempt = now->next_attempt_time;
    }
    if (old->queue_kind() != now->queue || old->next_attempt() != next_attempt ||
        old->forced_expire() != now->forced_expire) {
      // Only where it is changed: the entry keeps its strings.
      updates.push_back(
          {t.queue_id, now->queue, next_attempt, now->forced_expire, t.source});
    }
  }
  // Events for what an action already published change nothing: no copy.
  if (messages.empty() && updates.empty()) return;
  PublishChangesLocked(std::move(before), messages, updates, keys);
}

absl::StatusOr<Message> QueueIndex::ReadAgain(const RefreshTarget& target,
                                              std::optional<QueueKind> hint) const {
  if (target.source == QueueSource::kMpa) return spool_->FindItem(target.queue_id, hint);
  return reader_->ReadMessage(target.queue_id, hint);
}

void QueueIndex::ApplyUpdates(
    const std::vector<QueueSnapshot::EntryUpdate>& updates) {
  absl::MutexLock writer_lock(&writer_mu_);
  std::vector<MessageKeyRef> keys;
  keys.reserve(updates.size());
  for (const auto& u : updates) keys.emplace_back(u.source, u.queue_id);
  PublishChangesLocked(Current(), {}, updates, keys);
}

void QueueIndex::PublishChangesLocked(
    std::shared_ptr<const QueueSnapshot> before, const std::vector<Message>& messages,
    const std::vector<QueueSnapshot::EntryUpdate>& updates,
    const std::vector<MessageKeyRef>& keys) {
  std::shared_ptr<const QueueSnapshot> next =
      before->WithChanges(messages, updates, generation_ + 1);
  // What changed is read off the two snapshots, not worked out by hand.
  std::vector<IndexChange> changes = QueueSnapshot::Diff(*before, *next, keys);
  if (changes.empty()) return;
  ++generation_;
  if (next->ExtensionBytes() > kMaxExtensionBytes) {
    if (auto compact = next->Compacted()) next = std::move(compact);
  }
  PublishLocked(std::move(before), std::move(next), std::move(changes),
                /*rescan=*/false);
}

}  // namespace mailfleet
