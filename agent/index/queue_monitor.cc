#include "agent/index/queue_monitor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/mpa/spool_item.h"
#include "common/fmt_absl.h"
#include "common/queue_id.h"
#include "spdlog/spdlog.h"

namespace mailfleet {

QueueMonitor::QueueMonitor(QueueIndex* index, Filesystem* fs, DirWatcher* watcher,
                           MonitorOptions options)
    : index_(index),
      fs_(fs),
      watcher_(watcher),
      options_(options),
      top_(index->reader().config().queue_directory),
      spool_top_(index->spool() != nullptr ? index->spool()->root() : "") {}

QueueMonitor::~QueueMonitor() { Stop(); }

void QueueMonitor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  watcher_->Wake();
  if (event_thread_.joinable()) event_thread_.join();
  if (apply_thread_.joinable()) apply_thread_.join();
}

MonitorStats QueueMonitor::stats() const {
  MonitorStats s;
  s.events = events_;
  s.batches = batches_;
  s.messages_refreshed = refreshed_;
  s.rescans = rescans_;
  s.directories = directories_;
  return s;
}

void QueueMonitor::WatchTree(const std::string& path, DirInfo info, Pending* found) {
  absl::Status watched = watcher_->Watch(path);
  if (!watched.ok()) {
    if (absl::IsNotFound(watched)) return;  // not created yet: the top tells
    {
      absl::MutexLock lock(&mu_);
      degraded_ = true;
    }
    if (!watch_failed_logged_) {
      watch_failed_logged_ = true;
      spdlog::warn("cannot watch {}: {}; its changes show at the next rescan",
                   path, watched);
    }
    return;
  }
  dirs_[path] = info;
  directories_ = static_cast<int64_t>(dirs_.size());
  if (info.role == Role::kTop || info.role == Role::kSpoolTop) return;
  auto entries = fs_->ListDir(path);
  if (!entries.ok()) return;
  const bool hashed =
      info.role != Role::kSpoolQueue && info.queue != QueueKind::kMaildrop;
  for (const DirEntry& e : *entries) {
    if (hashed && postfix::IsHashSubdirectory(*fs_, path, e, info.level)) {
      DirInfo child = info;
      child.level++;
      WatchTree(absl::StrCat(path, "/", e.name), child, found);
      continue;
    }
    if (found == nullptr) continue;
    if (auto key = KeyOfFile(info, e.name)) Mark(info, *key, true, *found);
  }
}

std::optional<MessageKeyRef> QueueMonitor::KeyOfFile(const DirInfo& info,
                                                     absl::string_view name) {
  switch (info.role) {
    case Role::kQueue:
    case Role::kDeferLogs:
      if (!IsPostfixQueueFileName(name)) return std::nullopt;
      return MessageKeyRef(QueueSource::kPostfix, name);
    case Role::kSpoolQueue:
      if (auto id = mpa::SpoolIdOfItemFile(name)) {
        return MessageKeyRef(QueueSource::kMpa, *id);
      }
      return std::nullopt;
    case Role::kTop:
    case Role::kSpoolTop:
      break;
  }
  return std::nullopt;
}

void QueueMonitor::Mark(const DirInfo& info, MessageKeyRef key, bool arrived,
                        Pending& pending) {
  auto& hint = pending[MessageKey(key.first, std::string(key.second))];
  // Where a file appeared is where to look first; a file that left a
  // queue is looked for where the index has it, then everywhere.
  if (info.role == Role::kQueue || info.role == Role::kSpoolQueue) {
    if (arrived) {
      hint = info.queue;
    } else if (hint == info.queue) {
      hint.reset();
    }
  }
}

void QueueMonitor::Handle(const DirEvent& event, Pending& pending) {
  ++events_;
  if (event.kind == DirEvent::Kind::kOverflow) {
    absl::MutexLock lock(&mu_);
    overflowed_ = true;
    return;
  }
  auto it = dirs_.find(event.dir);
  if (it == dirs_.end()) return;
  const DirInfo info = it->second;
  switch (event.kind) {
    case DirEvent::Kind::kDirGone: {
      // Postfix never removes a queue directory: whatever did took its
      // messages along without an event for each.
      spdlog::warn("{} went away: rescanning", event.dir);
      dirs_.erase(it);
      directories_ = static_cast<int64_t>(dirs_.size());
      absl::MutexLock lock(&mu_);
      overflowed_ = true;
      return;
    }
    case DirEvent::Kind::kDirCreated: {
      const std::string path = absl::StrCat(event.dir, "/", event.name);
      if (info.role == Role::kSpoolTop) {
        for (QueueKind q : mpa::kSpoolQueues) {
          if (event.name == mpa::SpoolDirName(q)) {
            WatchTree(path, {Role::kSpoolQueue, q}, &pending);
          }
        }
        return;
      }
      if (info.role == Role::kSpoolQueue) return;  // the MPA's own business
      if (info.role == Role::kTop) {
        if (event.name == "defer") {
          WatchTree(path, {Role::kDeferLogs}, &pending);
          return;
        }
        for (QueueKind q : kPostfixQueues) {
          if (event.name == QueueKindName(q)) {
            WatchTree(path, {Role::kQueue, q}, &pending);
          }
        }
        return;
      }
      if (event.name.size() == 1 && info.queue != QueueKind::kMaildrop &&
          info.level < postfix::kMaxHashLevels) {
        DirInfo child = info;
        child.level++;
        WatchTree(path, child, &pending);
      }
      return;
    }
    case DirEvent::Kind::kChanged:
    case DirEvent::Kind::kRemoved: {
      if (auto key = KeyOfFile(info, event.name)) {
        Mark(info, *key, event.kind == DirEvent::Kind::kChanged, pending);
      }
      return;
    }
    case DirEvent::Kind::kOverflow:
      return;
  }
}

absl::Status QueueMonitor::Start() {
  WatchTree(top_, {Role::kTop}, nullptr);
  for (QueueKind q : kPostfixQueues) {
    WatchTree(absl::StrCat(top_, "/", QueueKindName(q)), {Role::kQueue, q}, nullptr);
  }
  WatchTree(absl::StrCat(top_, "/defer"), {Role::kDeferLogs}, nullptr);
  if (!spool_top_.empty()) {
    WatchTree(spool_top_, {Role::kSpoolTop}, nullptr);
    for (QueueKind q : mpa::kSpoolQueues) {
      WatchTree(mpa::SpoolQueuePath(spool_top_, q),
                {Role::kSpoolQueue, q}, nullptr);
    }
  }
  spdlog::info("watching {} queue directories", dirs_.size());
  // After the watches: a change during the scan is seen twice, never not
  // at all.
  absl::Status scanned = index_->Rescan();
  if (!scanned.ok()) return scanned;
  event_thread_ = std::thread([this] { EventLoop(); });
  apply_thread_ = std::thread([this] { ApplyLoop(); });
  return absl::OkStatus();
}

void QueueMonitor::EventLoop() {
  std::vector<DirEvent> events;
  Pending found;
  for (;;) {
    events.clear();
    absl::Status waited = watcher_->Wait(absl::Seconds(1), &events);
    if (!waited.ok()) {
      // The watcher is broken: rescans alone keep the index right.
      spdlog::error("watching the queue failed: {}", waited);
      absl::MutexLock lock(&mu_);
      degraded_ = true;
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Seconds(5));
    }
    for (const DirEvent& e : events) Handle(e, found);
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    if (events.empty()) continue;
    active_ = true;
    news_ = true;
    const absl::Time now = absl::Now();
    if (pending_.empty() && !found.empty()) batch_start_ = now;
    batch_grew_ = now;
    for (auto& [id, hint] : found) {
      auto [it, inserted] = pending_.try_emplace(id, hint);
      if (!inserted && hint) it->second = hint;
    }
    found.clear();
  }
}

void QueueMonitor::ApplyLoop() {
  absl::Time last_rescan = absl::Now();
  absl::Time next_rescan = last_rescan + options_.rescan_interval;
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    const absl::Time batch_due =
        pending_.empty() ? absl::InfiniteFuture()
                         : std::min(batch_start_ + options_.batch_window,
                                    batch_grew_ + options_.batch_quiet);
    auto woken = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return stopping_ || news_ || overflowed_;
    };
    mu_.AwaitWithDeadline(absl::Condition(&woken), std::min(next_rescan, batch_due));
    news_ = false;
    if (stopping_) break;
    const absl::Time now = absl::Now();
    if (now >= next_rescan && !active_ && !degraded_ &&
        now - last_rescan < options_.idle_rescan_interval) {
      next_rescan = now + options_.rescan_interval;  // quiet: nothing to correct
    }
    if (overflowed_ || now >= next_rescan) {
      const bool lost_events = overflowed_;
      if (lost_events) spdlog::warn("queue events were lost: rescanning");
      // What changed before the scan starts, the scan reads.
      pending_.clear();
      overflowed_ = false;
      active_ = false;
      ++rescans_;
      mu_.Unlock();
      (void)index_->Rescan([this] {
        // Changes that came during the scan are applied right after it,
        // and are no drift if the scan saw them first.
        absl::MutexLock lock(&mu_);
        absl::flat_hash_set<MessageKey> keys;
        for (const auto& [key, hint] : pending_) keys.insert(key);
        return keys;
      }, /*expect_drift=*/lost_events);
      mu_.Lock();
      last_rescan = absl::Now();
      next_rescan = last_rescan + options_.rescan_interval;
      continue;
    }
    if (pending_.empty() || now < batch_due) continue;
    std::vector<RefreshTarget> targets;
    targets.reserve(pending_.size());
    for (auto& [key, hint] : pending_) {
      targets.push_back({key.second, hint, key.first});
    }
    pending_.clear();
    mu_.Unlock();
    index_->Refresh(targets);
    ++batches_;
    refreshed_ += static_cast<int64_t>(targets.size());
    mu_.Lock();
  }
}

}  // namespace mailfleet
