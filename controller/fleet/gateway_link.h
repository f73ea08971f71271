// GatewayLink keeps one Watch stream open to one gateway's agent and folds
// its events into what the controller knows of that gateway: whether it is
// connected, stale or unreachable, when it was last heard, why it last
// failed, and its agent and queue summary (never its messages).
//
// A link has no thread of its own, so that a fleet of hundreds costs a few
// threads, not two per gateway. The stream is a gRPC callback reactor (one
// per stream, over a fresh channel each time): its reactions, on gRPC's
// threads, fold the events. Every deadline is a timer on a TimerQueue that
// the links of a fleet share: on any end of the stream the link waits an
// exponential backoff with full jitter before trying again (the backoff
// starts over once a snapshot has come in whole); and while a stream is
// open its watchdog timer watches the clock: a synced stream that says
// nothing for `stale_after` makes the gateway stale, and one silent for
// twice that is cancelled and reopened, as is a stream that brings no
// complete snapshot within `connect_timeout` (an address that swallows
// packets, an agent that hangs). Every stream starts from a fresh
// WatchView, so that a restarted agent's first snapshot replaces all that
// was known of the old instance; between streams the status keeps the last
// summary (with `synced` false) for the operator to look at.
//
// Thread-safe. The change callback is called on a gRPC reaction thread, on
// the timer queue's thread, or in Start, by whichever of them made a change
// while no call was running; one call at a time, in the order of the
// changes, with none of the link's state locked (changes within one state
// made while a call runs are merged into the next). It may call status(),
// but not Stop(); being on threads shared with other links, it should be
// quick.
#ifndef MAILFLEET_CONTROLLER_FLEET_GATEWAY_LINK_H_
#define MAILFLEET_CONTROLLER_FLEET_GATEWAY_LINK_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/random/bit_gen_ref.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/agent_client.h"
#include "controller/fleet/timer_queue.h"
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
  // has returned. The link's timers run on `timers`, or on a queue of its
  // own when null.
  GatewayLink(std::string name, std::string address, LinkOptions options,
              ChangeCallback on_change = nullptr,
              std::shared_ptr<TimerQueue> timers = nullptr);
  // Stops.
  ~GatewayLink();

  GatewayLink(const GatewayLink&) = delete;
  GatewayLink& operator=(const GatewayLink&) = delete;

  // Opens the first stream; once only.
  void Start();
  // Cancels the stream or the backoff and waits until the stream is done
  // and none of the link's callbacks is running; returns promptly (as long
  // as the change callback does). Idempotent. A stopped link stays stopped.
  // Must not be called with a lock held that the change callback takes.
  void Stop();

  GatewayStatus status() const;
  const std::string& name() const { return name_; }
  const std::string& address() const { return address_; }

 private:
  // One Watch call: its reactor, context, request and WatchView.
  class Stream;

  // Opens a stream over a new channel, unless stopping.
  void OpenStream() ABSL_LOCKS_EXCLUDED(mu_);
  // The stream's event, folded by its view (`was_synced` before it).
  void OnEvent(const WatchView& view, bool was_synced) ABSL_LOCKS_EXCLUDED(mu_);
  // The stream is over (its reactor's OnDone), or never opened: unless
  // stopping, the gateway is unreachable and the backoff starts.
  void OnStreamDone(const Stream* stream, const absl::Status& ended)
      ABSL_LOCKS_EXCLUDED(mu_);
  void StreamFailedLocked(const absl::Status& failure, bool* deliver)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The timer: the backoff is over, or the watchdog's deadline came.
  void OnTimer() ABSL_LOCKS_EXCLUDED(mu_);
  // What the watchdog does now: marks a stale stream or gives up a dead one
  // (returned, to be cancelled once the lock is released); re-arms the
  // timer for its next look.
  std::shared_ptr<Stream> CheckStreamLocked(absl::Time now, bool* deliver)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Arms the timer for the watchdog's next look at the open stream.
  void ArmWatchdogLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Arms the timer, unless stopping.
  void ArmLocked(absl::Time when) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sets the state and logs the change; false if it was already so.
  bool SetStateLocked(GatewayState state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues the current status for on_change_ and says whether the caller
  // is to deliver it (Deliver), no one else being at it.
  bool QueueChangeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Calls on_change_ with each queued status in turn, unless stopping.
  void Deliver() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string name_;
  const std::string address_;
  const LinkOptions options_;
  const ChangeCallback on_change_;

  // Held by Start and Stop, so that a Stop waits for a Start in progress.
  absl::Mutex lifecycle_mu_ ABSL_ACQUIRED_BEFORE(mu_);

  mutable absl::Mutex mu_;
  GatewayStatus status_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The open stream, null between streams; set by OpenStream and cleared by
  // its OnDone, so that Stop can wait for the reactor to be done.
  std::shared_ptr<Stream> stream_ ABSL_GUARDED_BY(mu_);
  // The last stream, done, kept until the next opens or Stop: its channel
  // must not be destroyed on the gRPC thread that ran its OnDone (gRPC
  // 1.51 then joins that thread with itself when the channel held the last
  // reference to the shared callback completion queue).
  std::shared_ptr<Stream> finished_ ABSL_GUARDED_BY(mu_);
  // Of the open stream: when it last brought an event (or opened), whether
  // its snapshot is in, and why the watchdog cancelled it (empty if not).
  absl::Time stream_heard_ ABSL_GUARDED_BY(mu_);
  bool stream_synced_ ABSL_GUARDED_BY(mu_) = false;
  std::string abandoned_ ABSL_GUARDED_BY(mu_);
  // Streams failed since the last complete snapshot, and when the backoff
  // after the last one ends.
  int failures_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time backoff_until_ ABSL_GUARDED_BY(mu_);
  absl::BitGen gen_ ABSL_GUARDED_BY(mu_);
  // Statuses waiting for on_change_, and whether a thread is delivering
  // them (Stop waits for it to finish).
  std::deque<GatewayStatus> changes_ ABSL_GUARDED_BY(mu_);
  bool delivering_ ABSL_GUARDED_BY(mu_) = false;

  // The backoff between streams, the watchdog during one: never both.
  TimerQueue::Timer timer_;
};

}  // namespace controller
}  // namespace mailfleet

#endif  // MAILFLEET_CONTROLLER_FLEET_GATEWAY_LINK_H_
