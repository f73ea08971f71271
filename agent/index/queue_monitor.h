// Keeps a QueueIndex live: watches every queue directory (hashed
// subdirectories and defer/ logs included, and the MPA spool's four queues
// when the index has a spool) and, when the directories say a
// file changed, reads that message again. Changes that arrive close
// together are coalesced into one batch, so that a message's trip through
// incoming, active and deferred costs one refresh, not five. A full rescan
// every so often (and whenever the kernel dropped events) corrects whatever
// the live updates missed.
#ifndef MAILFLEET_AGENT_INDEX_QUEUE_MONITOR_H_
#define MAILFLEET_AGENT_INDEX_QUEUE_MONITOR_H_

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/index/queue_index.h"
#include "common/os/dir_watcher.h"
#include "common/os/filesystem.h"

namespace mailfleet {

struct MonitorOptions {
  // Changes are gathered into one batch until none came for `batch_quiet`
  // (a lone change, such as a hold, is applied at once), or for at most
  // `batch_window` while they keep coming.
  absl::Duration batch_window = absl::Milliseconds(200);
  // How often the whole queue is read again while it changes.
  absl::Duration rescan_interval = absl::Seconds(60);
  // How often while nothing changed at all: every change shows as an
  // event, so a quiet queue cannot drift (a lost event is an overflow, and
  // that rescans at once). A large queue is not read again for nothing.
  absl::Duration idle_rescan_interval = absl::Minutes(10);
  absl::Duration batch_quiet = absl::Milliseconds(20);
};

struct MonitorStats {
  int64_t events = 0;
  int64_t batches = 0;
  int64_t messages_refreshed = 0;
  int64_t rescans = 0;
  int64_t directories = 0;
};

class QueueMonitor {
 public:
  // All must outlive the monitor. `fs` is where the index's reader reads.
  QueueMonitor(QueueIndex* index, Filesystem* fs, DirWatcher* watcher,
               MonitorOptions options = {});
  ~QueueMonitor();

  // Watches the queue directories, scans once, then follows changes on a
  // thread of its own. Fails if the first scan fails; a directory that
  // cannot be watched only leaves its changes to the rescans (logged).
  absl::Status Start();
  // Stops the thread; the index keeps its last state.
  void Stop();

  MonitorStats stats() const;

 private:
  enum class Role { kTop, kQueue, kDeferLogs, kSpoolTop, kSpoolQueue };
  struct DirInfo {
    Role role;
    QueueKind queue = QueueKind::kUnknown;
    int level = 0;  // hash subdirectory depth
  };
  // Where the messages that changed since the last batch were seen last.
  using Pending = absl::flat_hash_map<MessageKey, std::optional<QueueKind>>;

  void Run();
  // Watches `path` and the hash subdirectories below it. With `found`, the
  // queue files already in them are marked (they may have arrived before
  // the watch).
  void WatchTree(const std::string& path, DirInfo info, Pending* found);
  void Handle(const DirEvent& event, Pending& pending);
  // The message a file named `name` in a directory of `info`'s role
  // belongs to, if any.
  static std::optional<MessageKeyRef> KeyOfFile(const DirInfo& info,
                                                absl::string_view name);
  // Notes a change of `key` seen in a directory of `info`'s role.
  static void Mark(const DirInfo& info, MessageKeyRef key, bool arrived,
                   Pending& pending);
  // Takes the events as they come, so that the kernel's queue never
  // overflows, not even while a rescan of a large queue runs.
  void EventLoop();
  // Applies what the events gathered, and rescans.
  void ApplyLoop();

  QueueIndex* index_;
  Filesystem* fs_;
  DirWatcher* watcher_;
  const MonitorOptions options_;
  const std::string top_;
  const std::string spool_top_;  // empty without a spool
  // The event thread's (and Start's, before it runs).
  absl::flat_hash_map<std::string, DirInfo> dirs_;
  bool watch_failed_logged_ = false;

  absl::Mutex mu_;
  Pending pending_ ABSL_GUARDED_BY(mu_);
  absl::Time batch_start_ ABSL_GUARDED_BY(mu_);  // when pending_ began
  absl::Time batch_grew_ ABSL_GUARDED_BY(mu_);   // when it last grew
  bool news_ ABSL_GUARDED_BY(mu_) = false;       // for the apply thread
  bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
  // Since the last rescan: any event, any directory left unwatched.
  bool active_ ABSL_GUARDED_BY(mu_) = false;
  bool degraded_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::thread event_thread_;
  std::thread apply_thread_;
  std::atomic<int64_t> events_{0}, batches_{0}, refreshed_{0}, rescans_{0};
  std::atomic<int64_t> directories_{0};
};

}  // namespace mailfleet

#endif  // MAILFLEET_AGENT_INDEX_QUEUE_MONITOR_H_
