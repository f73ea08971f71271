#include "agent/index/queue_index.h"

#include <malloc.h>

#include <random>

#include "absl/strings/str_format.h"
#include "common/fmt_absl.h"
#include "spdlog/spdlog.h"

namespace mailfleet {
namespace {

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
  absl::StatusOr<postfix::ScanResult> scan = reader_->ScanAll();
  if (!scan.ok()) {
    spdlog::error("queue scan failed: {}", scan.status());
    return scan.status();
  }
  for (const auto& p : scan->problems) {
    spdlog::warn("{} {}: {}", QueueKindName(p.queue), p.queue_id, p.reason);
  }
  absl::Duration took = scan->duration;
  size_t problems = scan->problems.size();
  auto snapshot = QueueSnapshot::Build(*std::move(scan), ++generation_);
  size_t count = snapshot->size();
  {
    absl::MutexLock lock(&mu_);
    current_.swap(snapshot);
  }
  snapshot.reset();  // the old one, unless a reader still holds it
  // The scan's transient records are freed by now; give the pages back so
  // the agent's footprint is the index, not the scan's high-water mark.
  malloc_trim(0);
  spdlog::info("scanned {} messages in {} ({} problems), generation {}", count,
               absl::FormatDuration(took), problems, generation_);
  return absl::OkStatus();
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
