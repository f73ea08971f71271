// The Watch streams of an agent. The hub listens to the index and, on a
// thread of its own, turns every batch into one delta per watcher (filtered
// as that watcher asked, with its summary's changes), so that neither the
// index nor one watcher ever waits for another watcher's network.
//
// Each watcher has a bounded outbox. A watcher that falls that far behind
// loses its backlog and gets a fresh snapshot instead (REASON_RESYNC):
// memory stays bounded whatever the clients do. A watcher with nothing to
// hear gets heartbeats, which keep proxies and load balancers from closing
// an idle stream.
#ifndef MAILFLEET_AGENT_SERVICE_WATCH_HUB_H_
#define MAILFLEET_AGENT_SERVICE_WATCH_HUB_H_

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/index/queue_index.h"
#include "mailfleet/v1/agent.grpc.pb.h"

namespace mailfleet {

struct WatchHubOptions {
  // A watcher's undelivered events, beyond which it is resynchronised.
  size_t max_outbox_bytes = 4 << 20;
  size_t max_outbox_events = 4096;
  // Streams at once; more are refused with RESOURCE_EXHAUSTED.
  int max_watchers = 1000;
  // Messages per snapshot part.
  int snapshot_part_messages = 1000;
  // How often heartbeats are considered.
  absl::Duration tick = absl::Seconds(1);
};

inline constexpr absl::Duration kDefaultHeartbeat = absl::Seconds(15);
inline constexpr absl::Duration kMinHeartbeat = absl::Seconds(1);
inline constexpr absl::Duration kMaxHeartbeat = absl::Minutes(10);

class WatchHub {
 public:
  // `index` must outlive the hub. `agent_info` fills snapshots' AgentInfo
  // (generation and scan times are set per snapshot).
  WatchHub(QueueIndex* index, v1::AgentInfo agent_info, WatchHubOptions options = {});
  ~WatchHub();

  // The reactor of one Watch call: refuses a bad request with
  // INVALID_ARGUMENT, or streams until the client cancels.
  grpc::ServerWriteReactor<v1::WatchEvent>* Open(
      grpc::CallbackServerContext* context, const v1::WatchRequest* request);

  // Ends every stream (UNAVAILABLE) and refuses new ones: before the
  // server's Shutdown, which would otherwise wait for them.
  void Shutdown();

  int watcher_count() const;

 private:
  class Watcher;
  // A summary per distinct filter, shared by the watchers that asked for
  // the same.
  struct CachedSummary {
    int64_t generation = -1;
    absl::Time computed = absl::InfinitePast();
    QueueSummary summary;
  };
  enum class SummaryNeed {
    kExact,      // of this snapshot, computed now unless it just was
    kThrottled,  // of this snapshot, or null if one was computed just now
    kHeartbeat,  // as kThrottled; an equal generation's may be older
  };

  void OnBatch(std::shared_ptr<const IndexBatch> batch);
  void Run();
  void DeliverLocked(const IndexBatch& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(watchers_mu_);
  void StartSnapshotLocked(Watcher* w, int reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(watchers_mu_);
  void HeartbeatsLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(watchers_mu_);
  // Queues `event` for `w`, or resynchronises `w` if it is too far behind.
  void PostLocked(Watcher* w, v1::WatchEvent event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(watchers_mu_);
  const QueueSummary* SummaryFor(const Watcher& w, const QueueSnapshot& snapshot,
                                 absl::Time now, SummaryNeed need)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(watchers_mu_);
  // Fills `out` with what `w` has not been sent of its summary; false if
  // nothing (or the summary is to wait: w->summary_behind).
  bool UpdateSummaryLocked(Watcher* w, const QueueSnapshot& snapshot, absl::Time now,
                           SummaryNeed need, v1::SummaryUpdate* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(watchers_mu_);
  void Remove(Watcher* w);

  QueueIndex* const index_;
  const v1::AgentInfo agent_info_;
  const WatchHubOptions options_;
  int listener_ = -1;

  // Batches from the index, waiting for the hub's thread.
  absl::Mutex queue_mu_;
  std::deque<std::shared_ptr<const IndexBatch>> batches_ ABSL_GUARDED_BY(queue_mu_);
  bool wake_ ABSL_GUARDED_BY(queue_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;

  // Held by the hub's thread while it works on watchers, and by a watcher
  // joining or leaving.
  mutable absl::Mutex watchers_mu_ ABSL_ACQUIRED_BEFORE(queue_mu_);
  std::vector<Watcher*> watchers_ ABSL_GUARDED_BY(watchers_mu_);
  bool shut_down_ ABSL_GUARDED_BY(watchers_mu_) = false;
  // The snapshot every delta so far leads to.
  std::shared_ptr<const QueueSnapshot> current_ ABSL_GUARDED_BY(watchers_mu_);
  absl::flat_hash_map<std::string, CachedSummary> summaries_
      ABSL_GUARDED_BY(watchers_mu_);

  std::thread thread_;
};

}  // namespace mailfleet

#endif  // MAILFLEET_AGENT_SERVICE_WATCH_HUB_H_
