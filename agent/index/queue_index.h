// The agent's index of its queues: the current QueueSnapshot, replaced by a
// full rescan at start, on demand and periodically. Answers come from the
// snapshot, never from a scan of their own.
//
// Thread-safe. Readers take a reference to the current snapshot and keep
// using it while a rescan builds the next one.
#ifndef MAILFLEET_AGENT_INDEX_QUEUE_INDEX_H_
#define MAILFLEET_AGENT_INDEX_QUEUE_INDEX_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/index/queue_snapshot.h"
#include "agent/postfix/queue_reader.h"

namespace mailfleet {

class QueueIndex {
 public:
  // `reader` must outlive the index.
  explicit QueueIndex(const postfix::QueueReader* reader);
  ~QueueIndex();

  // Scans every queue and publishes the result. Concurrent calls are
  // serialised.
  absl::Status Rescan();

  // Publishes what an action changed, without a rescan.
  void ApplyUpdates(const std::vector<QueueSnapshot::EntryUpdate>& updates);

  // Rescans every `interval` on a thread of its own until destruction.
  void StartPeriodicRescan(absl::Duration interval);

  // The snapshot of the last successful scan (an empty one before the
  // first).
  std::shared_ptr<const QueueSnapshot> Current() const;

  const std::string& instance_id() const { return instance_id_; }
  const postfix::QueueReader& reader() const { return *reader_; }

 private:
  const postfix::QueueReader* reader_;
  const std::string instance_id_;
  absl::Mutex scan_mu_;  // one scan at a time
  mutable absl::Mutex mu_;
  std::shared_ptr<const QueueSnapshot> current_ ABSL_GUARDED_BY(mu_);
  int64_t generation_ ABSL_GUARDED_BY(scan_mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread rescan_thread_;
};

}  // namespace mailfleet

#endif  // MAILFLEET_AGENT_INDEX_QUEUE_INDEX_H_
