#include "controller/fleet/gateway_link.h"

#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/client_callback.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/random/distributions.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "client/grpc_status.h"
#include "client/channel.h"
#include "client/watch_view.h"
#include "proto/time_proto.h"
#include "common/fmt_absl.h"
#include "mailfleet/v1/agent.grpc.pb.h"

namespace mailfleet::controller {
namespace {

using ::google::protobuf::util::MessageDifferencer;

// Failures past this many in a row back off no longer (the ceiling has long
// reached max_backoff); the bound only keeps the counter from overflowing.
constexpr int kMaxCountedFailures = 1000;

// What status.last_error holds and the log shows: one line, naming the
// address, with the code, as gRPC and the agent worded the rest.
std::string DescribeFailure(const std::string& address,
                            const absl::Status& status) {
  std::string text =
      absl::StrCat(address, ": ", absl::StatusCodeToString(status.code()));
  if (!status.message().empty()) absl::StrAppend(&text, ": ", status.message());
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; },
      ' ');
  return text;
}

}  // namespace

absl::string_view GatewayStateName(GatewayState state) {
  switch (state) {
    case GatewayState::kConnecting:
      return "connecting";
    case GatewayState::kConnected:
      return "connected";
    case GatewayState::kStale:
      return "stale";
    case GatewayState::kUnreachable:
      return "unreachable";
  }
  return "unknown";
}

absl::Status CheckLinkOptions(const LinkOptions& options) {
  // The agent's own bounds, so that a bad value fails here, not on every
  // gateway's stream.
  if (options.heartbeat < absl::Seconds(1) ||
      options.heartbeat > absl::Minutes(10)) {
    return absl::InvalidArgumentError(
        absl::StrCat("heartbeat ", absl::FormatDuration(options.heartbeat),
                     " is not between 1s and 10m"));
  }
  if (options.stale_after <= options.heartbeat) {
    return absl::InvalidArgumentError(
        absl::StrCat("stale-after ", absl::FormatDuration(options.stale_after),
                     " must be longer than the heartbeat ",
                     absl::FormatDuration(options.heartbeat),
                     ", or a quiet gateway looks stale"));
  }
  if (options.initial_backoff <= absl::ZeroDuration() ||
      options.max_backoff < options.initial_backoff) {
    return absl::InvalidArgumentError(absl::StrCat(
        "backoff from ", absl::FormatDuration(options.initial_backoff),
        " up to ", absl::FormatDuration(options.max_backoff),
        ": both must be positive, the maximum no less than the initial"));
  }
  if (options.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "connect timeout ", absl::FormatDuration(options.connect_timeout),
        " is not positive"));
  }
  if (options.top_n < 0 || options.top_n > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("top-n ", options.top_n, " is not between 0 and 1000"));
  }
  return absl::OkStatus();
}

absl::Duration BackoffCeiling(int attempt, const LinkOptions& options) {
  absl::Duration ceiling =
      std::max(options.initial_backoff, absl::ZeroDuration());
  for (int i = 0; i < attempt && ceiling > absl::ZeroDuration() &&
                  ceiling < options.max_backoff;
       ++i) {
    ceiling *= 2;
  }
  return std::max(std::min(ceiling, options.max_backoff), absl::ZeroDuration());
}

absl::Duration BackoffFor(int attempt, const LinkOptions& options,
                          absl::BitGenRef gen) {
  const int64_t ceiling =
      absl::ToInt64Nanoseconds(BackoffCeiling(attempt, options));
  if (ceiling <= 0) return absl::ZeroDuration();
  return absl::Nanoseconds(
      absl::Uniform(absl::IntervalClosedClosed, gen, int64_t{0}, ceiling));
}

// The stream: one Watch call, with everything that has to outlive it until
// its OnDone. Reads are serialized by gRPC, so the view is the reactions'
// alone; what the link makes of them goes through the link's lock.
class GatewayLink::Stream : public grpc::ClientReadReactor<v1::WatchEvent> {
 public:
  Stream(GatewayLink* link, const std::shared_ptr<grpc::Channel>& channel,
         const LinkOptions& options)
      : link_(link), stub_(v1::AgentService::NewStub(channel)) {
    request_.set_top_n(options.top_n);
    SetDuration(options.heartbeat, request_.mutable_heartbeat_interval());
  }

  // Starts the call. The link keeps the stream until after its OnDone.
  void Begin() {
    stub_->async()->Watch(&context_, &request_, this);
    StartRead(&event_);
    StartCall();
  }

  // Ends the call (its OnDone follows), even one not begun yet.
  void Cancel() { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // The stream is over; OnDone says how.
    const bool was_synced = view_.synced();
    // An event that breaks the stream's rules ends the stream with the
    // error; the next one starts over with a snapshot.
    if (absl::Status applied = view_.Apply(event_); !applied.ok()) {
      refused_ = std::move(applied);
      context_.TryCancel();
      return;
    }
    link_->OnEvent(view_, was_synced);
    StartRead(&event_);
  }

  void OnDone(const grpc::Status& status) override {
    // The last reaction; once the link has it, the stream may go at once.
    link_->OnStreamDone(this,
                        refused_.ok() ? FromGrpcStatus(status) : refused_);
  }

 private:
  GatewayLink* const link_;
  const std::unique_ptr<v1::AgentService::Stub> stub_;
  grpc::ClientContext context_;
  v1::WatchRequest request_;
  v1::WatchEvent event_;
  // Fresh for every stream: nothing of an earlier stream (a snapshot cut
  // off halfway, another instance's generations) carries over.
  WatchView view_{/*track_messages=*/false};
  absl::Status refused_;
};

GatewayLink::GatewayLink(std::string name, std::string address,
                         LinkOptions options, ChangeCallback on_change,
                         std::shared_ptr<TimerQueue> timers)
    : name_(std::move(name)),
      address_(std::move(address)),
      options_(std::move(options)),
      on_change_(std::move(on_change)),
      timer_(timers != nullptr ? std::move(timers)
                               : std::make_shared<TimerQueue>(),
             [this] { OnTimer(); }) {
  status_.name = name_;
  status_.address = address_;
}

GatewayLink::~GatewayLink() { Stop(); }

void GatewayLink::Start() {
  absl::MutexLock lifecycle(&lifecycle_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (started_ || stopping_) return;
    started_ = true;
  }
  spdlog::info("gateway {}: watching the agent at {}", name_, address_);
  OpenStream();
}

void GatewayLink::Stop() {
  // Released last, once the lock is, as in OpenStream.
  std::shared_ptr<Stream> finished;
  absl::MutexLock lifecycle(&lifecycle_mu_);
  std::shared_ptr<Stream> stream;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    changes_.clear();
    stream = stream_;
  }
  // Outside the lock, as every call into gRPC: the reactions take it.
  if (stream != nullptr) stream->Cancel();
  stream.reset();
  // Nothing arms the timer once stopping; a callback running now is waited
  // for (it may be opening a stream, which then sees stopping_).
  timer_.Disarm();
  absl::MutexLock lock(&mu_);
  auto quiet = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stream_ == nullptr && !delivering_;
  };
  mu_.Await(absl::Condition(&quiet));
  finished = std::move(finished_);
}

GatewayStatus GatewayLink::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

void GatewayLink::OpenStream() {
  {
    // The last stream's channel goes before the next is made: alive, it
    // would lend the new one its subchannel, with gRPC's reconnect backoff.
    std::shared_ptr<Stream> finished;
    absl::MutexLock lock(&mu_);
    finished = std::move(finished_);
  }
  // A channel per stream: one kept across an agent's restart would add
  // gRPC's own reconnect backoff (up to two minutes) to ours.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      OpenChannel(address_, options_.client.credentials,
                  options_.client.max_receive_message_bytes);
  if (!channel.ok()) {
    OnStreamDone(nullptr, channel.status());
    return;
  }
  auto stream = std::make_shared<Stream>(this, *channel, options_);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stream_ = stream;
    stream_heard_ = absl::Now();
    stream_synced_ = false;
    abandoned_.clear();
    ArmWatchdogLocked();
  }
  // A Stop or a watchdog between here and the call's start cancels it as
  // it starts.
  stream->Begin();
}

void GatewayLink::OnEvent(const WatchView& view, bool was_synced) {
  const absl::Time now = absl::Now();
  bool deliver = false;
  {
    absl::MutexLock lock(&mu_);
    status_.last_heard = now;
    stream_heard_ = now;
    // Snapshot parts still arriving: the status keeps what it had.
    if (!view.synced()) return;
    bool changed = false;
    bool nearer = false;  // The watchdog's next deadline moved earlier.
    if (!was_synced) {
      stream_synced_ = true;
      failures_ = 0;
      changed = true;
      nearer = true;
      if (!status_.instance_id.empty() &&
          status_.instance_id != view.instance_id()) {
        spdlog::info("gateway {}: the agent restarted (instance {}, was {})",
                     name_, view.instance_id(), status_.instance_id);
      }
    }
    changed = changed || status_.generation != view.generation() ||
              !MessageDifferencer::Equals(status_.summary, view.summary());
    if (changed) {
      status_.instance_id = view.instance_id();
      status_.generation = view.generation();
      status_.agent = view.agent();
      status_.summary = view.summary();
      status_.synced = true;
    }
    if (SetStateLocked(GatewayState::kConnected)) {
      nearer = true;  // Back from stale: the stale deadline is nearer.
      changed = true;
    }
    if (nearer) ArmWatchdogLocked();
    if (changed) deliver = QueueChangeLocked();
  }
  if (deliver) Deliver();
}

void GatewayLink::OnStreamDone(const Stream* stream,
                               const absl::Status& ended) {
  bool deliver = false;
  {
    absl::MutexLock lock(&mu_);
    std::string abandoned;
    if (stream != nullptr) {
      finished_ = std::move(stream_);
      stream_synced_ = false;
      abandoned.swap(abandoned_);
    }
    if (stopping_) return;
    absl::Status failure = ended;
    if (!abandoned.empty()) {
      failure = absl::DeadlineExceededError(abandoned);
    } else if (ended.ok()) {
      // An agent never ends a watch on its own unless it is going away.
      failure = absl::UnavailableError("the agent ended the watch");
    }
    StreamFailedLocked(failure, &deliver);
  }
  if (deliver) Deliver();
}

void GatewayLink::StreamFailedLocked(const absl::Status& failure,
                                     bool* deliver) {
  const std::string error = DescribeFailure(address_, failure);
  const absl::Duration backoff = BackoffFor(failures_, options_, gen_);
  failures_ = std::min(failures_ + 1, kMaxCountedFailures);
  const bool changed = SetStateLocked(GatewayState::kUnreachable) ||
                       status_.synced || error != status_.last_error;
  status_.last_error = error;
  status_.synced = false;
  // A gateway that stays down says so once, not at every retry.
  if (changed) {
    spdlog::warn("gateway {}: {}; retrying in {}", name_, error,
                 absl::FormatDuration(backoff));
    *deliver = QueueChangeLocked();
  } else {
    spdlog::debug("gateway {}: {}; retrying in {}", name_, error,
                  absl::FormatDuration(backoff));
  }
  backoff_until_ = absl::Now() + backoff;
  // At once, to let the stream go (see OnTimer), then at the backoff's end.
  ArmLocked(absl::Now());
}

void GatewayLink::OnTimer() {
  std::shared_ptr<Stream> finished;  // Released last, off the lock.
  std::shared_ptr<Stream> abandon;
  bool deliver = false;
  bool reopen = false;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    const absl::Time now = absl::Now();
    if (stream_ != nullptr) {
      abandon = CheckStreamLocked(now, &deliver);
    } else if (now < backoff_until_) {
      // A stream has just ended: its channel goes now, on this thread, as
      // it must not on gRPC's (see finished_), and as early as it can, so
      // that its subchannel is gone when the next channel is made.
      finished = std::move(finished_);
      ArmLocked(backoff_until_);
      return;
    } else {
      ++status_.reconnects;
      reopen = true;
    }
  }
  // Outside the lock, as in Stop.
  if (abandon != nullptr) abandon->Cancel();
  if (deliver) Deliver();
  if (reopen) OpenStream();
}

std::shared_ptr<GatewayLink::Stream> GatewayLink::CheckStreamLocked(
    absl::Time now, bool* deliver) {
  // Being cancelled: its OnDone follows.
  if (!abandoned_.empty()) return nullptr;
  if (!stream_synced_) {
    const absl::Time due = stream_heard_ + options_.connect_timeout;
    if (now < due) {
      ArmLocked(due);
      return nullptr;
    }
    abandoned_ = absl::StrCat("no complete snapshot from the agent within ",
                              absl::FormatDuration(options_.connect_timeout));
    return stream_;
  }
  // Stale first, for a while, so that a heartbeat merely late (a loaded
  // agent, a slow link) does not cost a new snapshot; then give up.
  const absl::Time give_up = stream_heard_ + 2 * options_.stale_after;
  if (now >= give_up) {
    abandoned_ =
        absl::StrCat("nothing heard from the agent for ",
                     absl::FormatDuration(2 * options_.stale_after));
    return stream_;
  }
  const absl::Time stale = stream_heard_ + options_.stale_after;
  if (now < stale) {
    ArmLocked(stale);
    return nullptr;
  }
  if (SetStateLocked(GatewayState::kStale)) *deliver = QueueChangeLocked();
  ArmLocked(give_up);
  return nullptr;
}

void GatewayLink::ArmWatchdogLocked() {
  if (!stream_synced_) {
    ArmLocked(stream_heard_ + options_.connect_timeout);
  } else if (status_.state == GatewayState::kStale) {
    ArmLocked(stream_heard_ + 2 * options_.stale_after);
  } else {
    ArmLocked(stream_heard_ + options_.stale_after);
  }
}

void GatewayLink::ArmLocked(absl::Time when) {
  // Stop disarms the timer once, after setting stopping_: a timer armed
  // later would fire on a link that may be gone.
  if (!stopping_) timer_.Arm(when);
}

bool GatewayLink::SetStateLocked(GatewayState state) {
  if (status_.state == state) return false;
  spdlog::info("gateway {}: {} (was {})", name_, GatewayStateName(state),
               GatewayStateName(status_.state));
  status_.state = state;
  return true;
}

bool GatewayLink::QueueChangeLocked() {
  if (!on_change_ || stopping_) return false;
  // While a call runs, changes within one state are merged, so that a slow
  // callback costs no more than a status per state change.
  if (!changes_.empty() && changes_.back().state == status_.state) {
    changes_.back() = status_;
  } else {
    changes_.push_back(status_);
  }
  if (delivering_) return false;
  delivering_ = true;
  return true;
}

void GatewayLink::Deliver() {
  while (true) {
    GatewayStatus next;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_ || changes_.empty()) {
        changes_.clear();
        delivering_ = false;
        return;
      }
      next = std::move(changes_.front());
      changes_.pop_front();
    }
    on_change_(next);
  }
}

}  // namespace mailfleet::controller
