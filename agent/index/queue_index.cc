#include "agent/index/queue_index.h"

#include <malloc.h>

#include <random>

#include "absl/time/clock.h"

#include "absl/strings/str_format.h"
#include "common/fmt_absl.h"
#include "spdlog/spdlog.h"

namespace mailfleet {
namespace {

constexpr size_t kLoggedProblems = 20;

std::string NewInstanceId() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  return absl::StrFormat("%016x", gen());
}

}  // namespace

QueueIndex::QueueIndex(const postfix::QueueReader* reader)
    : reader_(reader),
      instance_id_(NewInstanceId()),
      current_(QueueSnapshot::Build(postfix::ScanResult{}, 0)) {}

QueueIndex::~QueueIndex() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (rescan_thread_.joinable()) rescan_thread_.join();
}

absl::Status QueueIndex::Rescan() {
  absl::MutexLock scan_lock(&scan_mu_);
  QueueSnapshot::Builder builder(reader_->threads());
  absl::StatusOr<postfix::ScanStats> stats = reader_->Scan(builder.sinks());
  if (!stats.ok()) {
    spdlog::error("queue scan failed: {}", stats.status());
    return stats.status();
  }
  auto built = builder.Finish(generation_ + 1, stats->started, stats->duration);
  if (!built.ok()) {
    spdlog::error("queue index not rebuilt: {}", built.status());
    return built.status();
  }
  ++generation_;
  std::shared_ptr<const QueueSnapshot> snapshot = *std::move(built);
  absl::Duration took = absl::Now() - stats->started;
  // The first few problems of every scan go to the log; Summary has them
  // all counted.
  const auto& problem_list = snapshot->problems();
  for (size_t i = 0; i < problem_list.size() && i < kLoggedProblems; ++i) {
    const auto& p = problem_list[i];
    spdlog::warn("{} {}: {}", QueueKindName(p.queue), p.queue_id, p.reason);
  }
  size_t problems = problem_list.size();
  size_t count = snapshot->size();
  size_t current_bytes = snapshot->MemoryBytes();
  {
    absl::MutexLock lock(&mu_);
    current_.swap(snapshot);
  }
  snapshot.reset();  // the old one, unless a reader still holds it
  // The scan's transient records are freed by now; give the pages back so
  // the agent's footprint is the index, not the scan's high-water mark.
  malloc_trim(0);
  spdlog::info(
      "indexed {} messages in {} (scan {}), {} problems, {} KiB, generation {}",
      count, absl::FormatDuration(took), absl::FormatDuration(stats->duration),
      problems, current_bytes / 1024, generation_);
  return absl::OkStatus();
}

void QueueIndex::ApplyUpdates(
    const std::vector<QueueSnapshot::EntryUpdate>& updates) {
  // Serialised with rescans, so that an update lands on top of whatever
  // scan finishes first.
  absl::MutexLock scan_lock(&scan_mu_);
  auto next = Current()->WithUpdates(updates, ++generation_);
  absl::MutexLock lock(&mu_);
  current_ = std::move(next);
}

void QueueIndex::StartPeriodicRescan(absl::Duration interval) {
  rescan_thread_ = std::thread([this, interval] {
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        auto stop = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
        if (mu_.AwaitWithTimeout(absl::Condition(&stop), interval)) return;
      }
      (void)Rescan();
    }
  });
}

std::shared_ptr<const QueueSnapshot> QueueIndex::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

}  // namespace mailfleet
