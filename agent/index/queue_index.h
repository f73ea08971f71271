// The agent's index of its queues: the current QueueSnapshot, built by a
// full scan and then kept current by small changes (messages read again
// after the queue directory told of them, actions' effects) and by rescans
// that correct whatever the changes missed. Answers come from the snapshot,
// never from a scan of their own.
//
// Every change published is a batch with the next generation number, and
// goes to the listeners (the Watch streams) in generation order.
//
// Thread-safe. Readers take a reference to the current snapshot and keep
// using it while the next one is built.
#ifndef MAILFLEET_AGENT_INDEX_QUEUE_INDEX_H_
#define MAILFLEET_AGENT_INDEX_QUEUE_INDEX_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/index/queue_snapshot.h"
#include "agent/mpa/spool_reader.h"
#include "agent/mpa/throttle.h"
#include "agent/postfix/queue_reader.h"

namespace mailfleet {

// One published change of the index: the snapshots on either side and the
// messages that differ between them.
struct IndexBatch {
  int64_t generation = 0;
  absl::Time time;
  std::shared_ptr<const QueueSnapshot> before;
  std::shared_ptr<const QueueSnapshot> after;
  std::vector<IndexChange> changes;
  bool rescan = false;  // from a full rescan
};

// One batch with the effect of `batches` (consecutive, oldest first): from
// the first's before to the last's after, each message that differs once.
std::shared_ptr<const IndexBatch> MergeBatches(
    const std::vector<std::shared_ptr<const IndexBatch>>& batches);

// A message to read again, and where to look for it first.
struct RefreshTarget {
  std::string queue_id;
  std::optional<QueueKind> hint;
  QueueSource source = QueueSource::kPostfix;
};

// What one successful full scan took and found.
struct ScanReport {
  absl::Duration duration;  // the scan and the index built from it
  size_t drift = 0;         // messages the live index had wrong
};

class QueueIndex {
 public:
  // Called with every batch, in generation order, while the index's writer
  // lock is held: it must only hand the batch on.
  using Listener = std::function<void(std::shared_ptr<const IndexBatch>)>;

  // Both must outlive the index. Without `spool` the index holds Postfix's
  // queue alone; with it, the MPA's items too, and summaries judge the
  // MPA's throttle state by `limits`.
  explicit QueueIndex(const postfix::QueueReader* reader,
                      const mpa::SpoolReader* spool = nullptr,
                      mpa::ThrottleLimits limits = {});

  // Scans every queue and publishes what differs from the index. After the
  // first scan a difference is drift, which is logged, except for the ids
  // that `changed_meanwhile` (called once the scan is done) names: those
  // changed while the scan ran and are no drift.
  // With `expect_drift` (events were lost) the differences are counted in
  // the log, not listed.
  absl::Status Rescan(
      const std::function<absl::flat_hash_set<MessageKey>()>& changed_meanwhile =
          nullptr,
      bool expect_drift = false);

  // Called after every successful Rescan (for the metrics).
  void SetScanObserver(std::function<void(const ScanReport&)> observer);

  // Reads these messages again from wherever they are now and publishes
  // what changed. A message that cannot be read is left as it was for the
  // next rescan to judge. Ids must be valid queue file names (Postfix) or
  // spool ids (MPA); MPA targets are ignored without a spool.
  void Refresh(const std::vector<RefreshTarget>& targets);

  // Publishes what an action changed, without reading anything.
  void ApplyUpdates(const std::vector<QueueSnapshot::EntryUpdate>& updates);

  // Returns a handle for RemoveListener.
  int AddListener(Listener listener);
  void RemoveListener(int handle);

  // The current snapshot (an empty one before the first scan).
  std::shared_ptr<const QueueSnapshot> Current() const;

  const std::string& instance_id() const { return instance_id_; }
  const postfix::QueueReader& reader() const { return *reader_; }
  // Null when the agent has no MPA spool.
  const mpa::SpoolReader* spool() const { return spool_; }
  // The limits to judge the MPA by; null without a spool.
  const mpa::ThrottleLimits* mpa_limits() const {
    return spool_ != nullptr ? &limits_ : nullptr;
  }
  // A summary of `snapshot` with the MPA's throttle state when there is a
  // spool.
  QueueSummary Summarize(const QueueSnapshot& snapshot, const Filter& filter,
                         absl::Time now, size_t top_n) const {
    return snapshot.Summarize(filter, now, top_n, mpa_limits());
  }

 private:
  // Makes `next` current as generation `next->generation()` and tells the
  // listeners.
  void PublishLocked(std::shared_ptr<const QueueSnapshot> before,
                     std::shared_ptr<const QueueSnapshot> next,
                     std::vector<IndexChange> changes, bool rescan)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);

  // Publishes `before` with `messages` and `updates` applied, if that
  // changes any of `ids` (the messages they concern).
  void PublishChangesLocked(std::shared_ptr<const QueueSnapshot> before,
                            const std::vector<Message>& messages,
                            const std::vector<QueueSnapshot::EntryUpdate>& updates,
                            const std::vector<MessageKeyRef>& keys)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);

  // Reads one message of either source again; NOT_FOUND if it is gone.
  absl::StatusOr<Message> ReadAgain(const RefreshTarget& target,
                                    std::optional<QueueKind> hint) const;

  const postfix::QueueReader* reader_;
  const mpa::SpoolReader* spool_;
  const mpa::ThrottleLimits limits_;
  const std::string instance_id_;
  absl::Mutex writer_mu_;  // one change at a time, in generation order
  int64_t generation_ ABSL_GUARDED_BY(writer_mu_) = 0;
  bool scanned_ ABSL_GUARDED_BY(writer_mu_) = false;
  std::function<void(const ScanReport&)> scan_observer_ ABSL_GUARDED_BY(writer_mu_);
  mutable absl::Mutex mu_;
  std::shared_ptr<const QueueSnapshot> current_ ABSL_GUARDED_BY(mu_);
  absl::Mutex listeners_mu_ ABSL_ACQUIRED_AFTER(writer_mu_);
  std::vector<std::pair<int, Listener>> listeners_ ABSL_GUARDED_BY(listeners_mu_);
  int next_listener_ ABSL_GUARDED_BY(listeners_mu_) = 0;
};

}  // namespace mailfleet

#endif  // MAILFLEET_AGENT_INDEX_QUEUE_INDEX_H_
