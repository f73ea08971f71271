// The controller's fleet Watch streams. The hub hears every gateway's
// status change (as the Fleet's change callback) and every reload of the
// gateways file (OnApply), and passes each to the watchers whose selection
// holds that gateway: a whole v1::Gateway when it changed or entered the
// selection, its name when it left. A label selector is matched again on
// every reload, since labels may have changed.
//
// A watcher has at most one write in flight and, behind it, at most one
// pending update per gateway: a newer one replaces it. One that reads
// slowly skips intermediate states but always gets each gateway's latest,
// and its memory is bounded by the size of the fleet whatever it does. A
// watcher that has heard nothing for its heartbeat interval gets a
// heartbeat, from one thread of the hub's.
//
// Thread-safe. OnChange never waits for a client: it only queues and
// starts writes. The hub's lock is taken before a watcher's and before the
// fleet's (to read it while no change can slip between the reading and the
// watchers); a watcher's own reactions take only its lock.
#ifndef MAILFLEET_CONTROLLER_SERVICE_FLEET_WATCH_H_
#define MAILFLEET_CONTROLLER_SERVICE_FLEET_WATCH_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/config/gateways_file.h"
#include "controller/fleet/fleet.h"
#include "mailfleet/v1/controller.grpc.pb.h"

namespace mailfleet::controller {

inline constexpr absl::Duration kDefaultFleetHeartbeat = absl::Seconds(15);
inline constexpr absl::Duration kMinFleetHeartbeat = absl::Seconds(1);
inline constexpr absl::Duration kMaxFleetHeartbeat = absl::Minutes(10);

// The request's heartbeat_interval: kDefaultFleetHeartbeat when unset,
// INVALID_ARGUMENT when malformed or outside [kMin, kMax]FleetHeartbeat.
absl::StatusOr<absl::Duration> FleetHeartbeatFromProto(
    const v1::FleetWatchRequest& request);

struct FleetWatchOptions {
  // Streams at once; more are refused with RESOURCE_EXHAUSTED.
  int max_watchers = 1000;
};

class FleetWatchHub {
 public:
  explicit FleetWatchHub(FleetWatchOptions options = {});
  // Shuts down. Every stream's OnDone must have run (the server shut down)
  // before the hub is destroyed.
  ~FleetWatchHub();

  FleetWatchHub(const FleetWatchHub&) = delete;
  FleetWatchHub& operator=(const FleetWatchHub&) = delete;

  // For the Fleet's constructor: calls OnChange.
  Fleet::ChangeCallback ChangeCallback();
  // A gateway's new status, on a link's thread. A gateway the hub has not
  // yet heard of from OnApply is skipped: OnApply sends it whole.
  void OnChange(const GatewayStatus& status) ABSL_LOCKS_EXCLUDED(mu_);
  // After each Fleet::Apply (the first one too) with what it returned:
  // re-reads the fleet's gateways and re-selects for every watcher.
  void OnApply(const Fleet& fleet, const GatewayChanges& changes)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The reactor of one Watch call on `fleet` (the one OnApply is given):
  // refuses a bad request (INVALID_ARGUMENT, NOT_FOUND as SelectFromProto
  // says) or streams a snapshot and then the changes until the client
  // cancels or the hub shuts down.
  grpc::ServerWriteReactor<v1::FleetWatchEvent>* Watch(
      const Fleet& fleet, const v1::FleetWatchRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Ends every stream (UNAVAILABLE) and refuses new ones; call it before
  // the server's Shutdown, which would otherwise wait for them. Idempotent.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  int watcher_count() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class Watcher;

  // From a watcher's OnDone; it is deleted next.
  void Unregister(Watcher* watcher) ABSL_LOCKS_EXCLUDED(mu_);
  void RunHeartbeats() ABSL_LOCKS_EXCLUDED(mu_);

  const FleetWatchOptions options_;

  mutable absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  // The gateways as the last OnApply read them, by name.
  std::map<std::string, Gateway> gateways_ ABSL_GUARDED_BY(mu_);
  std::set<Watcher*> watchers_ ABSL_GUARDED_BY(mu_);
  // Bumped when a watcher is added, whose heartbeat may be due before the
  // heartbeat thread's next wake-up.
  int64_t heartbeat_epoch_ ABSL_GUARDED_BY(mu_) = 0;

  std::thread heartbeat_thread_;
};

}  // namespace mailfleet::controller

#endif  // MAILFLEET_CONTROLLER_SERVICE_FLEET_WATCH_H_
