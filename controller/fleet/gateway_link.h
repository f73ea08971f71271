// GatewayLink keeps one Watch stream open to one gateway's agent and folds
// its events into what the controller knows of that gateway: whether it is
// connected, stale or unreachable, when it was last heard, why it last
// failed, and its agent and queue summary (never its messages).
//
// Each link runs two threads. The stream thread connects, watches, and on
// any end of the stream waits an exponential backoff with full jitter before
// trying again; the backoff starts over once a snapshot has come in whole.
// The watchdog thread watches the clock: a synced stream that says nothing
// for `stale_after` makes the gateway stale, and one silent for twice that
// is cancelled and reopened, as is a stream that brings no complete
// snapshot within `connect_timeout` (an address that swallows packets, an
// agent that hangs). Every stream starts from a fresh WatchView, so that a
// restarted agent's first snapshot replaces all that was known of the old
// instance; between streams the status keeps the last summary (with
// `synced` false) for the operator to look at.
//
// Thread-safe. The change callback is called on the link's threads, one
// call at a time, with none of the link's state locked: it may call
// status(), but not Stop().
#ifndef MAILFLEET_CONTROLLER_FLEET_GATEWAY_LINK_H_
#define MAILFLEET_CONTROLLER_FLEET_GATEWAY_LINK_H_

#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/random/bit_gen_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/agent_client.h"
#include "mailfleet/v1/agent.pb.h"

namespace mailfleet {

class WatchView;

namespace controller {

enum class GatewayState {
  // Started, and no stream has either brought a snapshot or failed yet.
  kConnecting,
  // The stream is open and its snapshot is in; events keep coming.
  kConnected,
  // The stream is open but nothing has come for `stale_after`.
  kStale,
  // The last stream failed or ended; another follows after a backoff.
  kUnreachable,
};

// "connecting", "connected", "stale", "unreachable".
absl::string_view GatewayStateName(GatewayState state);

struct LinkOptions {
  // Asked of the agent: a heartbeat after this long without another event.
  // The agent accepts 1 s to 10 min.
  absl::Duration heartbeat = absl::Seconds(5);
  // Nothing heard for this long on an open, synced stream: kStale. Twice
  // this long: the stream is cancelled and reopened. Must exceed
  // `heartbeat`, or a quiet but healthy agent looks stale.
  absl::Duration stale_after = absl::Seconds(15);
  // Backoff between streams: random in [0, min(max, initial * 2^n)] after
  // the n-th failure in a row (n from 0).
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(30);
  // A new stream that has not brought its whole snapshot this long after
  // opening (or after its last part) is given up as unreachable.
  absl::Duration connect_timeout = absl::Seconds(10);
  // Top domains and delay reasons kept in the summary (0: the agent's 10).
  int top_n = 10;
  // Channel settings (credentials); its timeouts do not apply to Watch.
  AgentClientOptions client;
};

// InvalidArgument, saying which, for options a link cannot work with.
absl::Status CheckLinkOptions(const LinkOptions& options);

// The longest backoff after the `attempt`-th failure in a row (from 0):
// min(max_backoff, initial_backoff * 2^attempt).
absl::Duration BackoffCeiling(int attempt, const LinkOptions& options);
// The backoff to wait: uniformly random in [0, BackoffCeiling(attempt)]
// ("full jitter"), so that gateways lost together do not return together.
absl::Duration BackoffFor(int attempt, const LinkOptions& options,
                          absl::BitGenRef gen);

struct GatewayStatus {
  std::string name;
  std::string address;
  GatewayState state = GatewayState::kConnecting;
  // When the last event came (any event, heartbeats too); InfinitePast if
  // never.
  absl::Time last_heard = absl::InfinitePast();
  // Why the last stream failed, on one line, naming the address; kept after
  // the gateway recovers, empty if no stream has failed yet.
  std::string last_error;
  // From the last complete snapshot and what followed it; empty (and zero)
  // until the first.
  std::string instance_id;
  int64_t generation = 0;
  v1::AgentInfo agent;
  v1::QueueSummary summary;
  // The fields above are live: the current stream's snapshot is in. False
  // while connecting, unreachable, or reading a new stream's snapshot (the
  // summary is then the last one known).
  bool synced = false;
  // Streams opened after the first.
  int64_t reconnects = 0;
};

class GatewayLink {
 public:
  using ChangeCallback = std::function<void(const GatewayStatus&)>;

  // `on_change` is called with the new status whenever the state, the
  // instance, the generation or the summary changes (not for each
  // heartbeat that changes nothing but last_heard), and never after Stop
  // has returned.
  GatewayLink(std::string name, std::string address, LinkOptions options,
              ChangeCallback on_change = nullptr);
  // Stops.
  ~GatewayLink();

  GatewayLink(const GatewayLink&) = delete;
  GatewayLink& operator=(const GatewayLink&) = delete;

  // Starts the threads; once only.
  void Start();
  // Cancels the stream or the backoff and joins the threads; returns
  // promptly (as long as the change callback does). Idempotent. A stopped
  // link stays stopped.
  void Stop();

  GatewayStatus status() const;
  const std::string& name() const { return name_; }
  const std::string& address() const { return address_; }

 private:
  void RunStreams();
  // One stream from connect to end: its error, or OK when stopping.
  absl::Status WatchOnce(int* failures);
  absl::Status OnEvent(const v1::WatchEvent& event, WatchView* view,
                       int* failures);
  void RunWatchdog();
  // What the watchdog does now: marks a stale stream or cancels a dead one.
  // Returns when to look again; sets `*notify` when the state changed.
  absl::Time CheckStreamLocked(absl::Time now, bool* notify)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AbandonStreamLocked(std::string reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sets the state and logs the change; false if it was already so.
  bool SetStateLocked(GatewayState state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Calls on_change_ with the current status, unless stopping.
  void Notify() ABSL_LOCKS_EXCLUDED(mu_, notify_mu_);

  const std::string name_;
  const std::string address_;
  const LinkOptions options_;
  const ChangeCallback on_change_;

  // Held by Start and Stop, so that two Stops do not both join.
  absl::Mutex lifecycle_mu_ ABSL_ACQUIRED_BEFORE(notify_mu_);
  // Serializes on_change_ calls, so that they arrive in the order of the
  // changes; taken before mu_ (the status is read under both).
  absl::Mutex notify_mu_ ABSL_ACQUIRED_BEFORE(mu_);

  mutable absl::Mutex mu_;
  GatewayStatus status_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The open stream's control (owned by the stream thread), null between
  // streams; Stop and the watchdog cancel through it.
  WatchControl* control_ ABSL_GUARDED_BY(mu_) = nullptr;
  // Of the open stream: when it last brought an event (or opened), whether
  // its snapshot is in, and why the watchdog cancelled it (empty if not).
  absl::Time stream_heard_ ABSL_GUARDED_BY(mu_);
  bool stream_synced_ ABSL_GUARDED_BY(mu_) = false;
  std::string abandoned_ ABSL_GUARDED_BY(mu_);
  // Bumped when the watchdog's deadlines move earlier (a stream opens,
  // syncs, closes, or recovers from stale), to wake it.
  int64_t watchdog_epoch_ ABSL_GUARDED_BY(mu_) = 0;

  std::thread stream_thread_;
  std::thread watchdog_thread_;
};

}  // namespace controller
}  // namespace mailfleet

#endif  // MAILFLEET_CONTROLLER_FLEET_GATEWAY_LINK_H_
