#include "tests/testing/fake_dir_watcher.h"

#include <utility>

namespace mailfleet::testing {

void FakeDirWatcher::Push(DirEvent event) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(event));
}

void FakeDirWatcher::Push(std::vector<DirEvent> events) {
  absl::MutexLock lock(&mu_);
  for (auto& e : events) queue_.push_back(std::move(e));
}

void FakeDirWatcher::FailWatch(const std::string& dir, absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (status.ok()) {
    watch_failures_.erase(dir);
  } else {
    watch_failures_[dir] = std::move(status);
  }
}

std::set<std::string> FakeDirWatcher::dirs() const {
  absl::MutexLock lock(&mu_);
  return dirs_;
}

absl::Status FakeDirWatcher::Watch(const std::string& dir) {
  absl::MutexLock lock(&mu_);
  auto failure = watch_failures_.find(dir);
  if (failure != watch_failures_.end()) return failure->second;
  dirs_.insert(dir);
  return absl::OkStatus();
}

void FakeDirWatcher::Unwatch(const std::string& dir) {
  absl::MutexLock lock(&mu_);
  dirs_.erase(dir);
}

absl::Status FakeDirWatcher::Wait(absl::Duration timeout,
                                  std::vector<DirEvent>* out) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return woken_ || !queue_.empty();
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  woken_ = false;
  for (auto& e : queue_) {
    if (e.kind == DirEvent::Kind::kDirGone) dirs_.erase(e.dir);
    out->push_back(std::move(e));
  }
  queue_.clear();
  return absl::OkStatus();
}

void FakeDirWatcher::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

size_t FakeDirWatcher::watched() const {
  absl::MutexLock lock(&mu_);
  return dirs_.size();
}

}  // namespace mailfleet::testing
