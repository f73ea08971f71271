#include "controller/fleet/gateway_link.h"

#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/random/distributions.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "client/watch_view.h"
#include "common/fmt_absl.h"

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

GatewayLink::GatewayLink(std::string name, std::string address,
                         LinkOptions options, ChangeCallback on_change)
    : name_(std::move(name)),
      address_(std::move(address)),
      options_(std::move(options)),
      on_change_(std::move(on_change)) {
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
  stream_thread_ = std::thread(&GatewayLink::RunStreams, this);
  watchdog_thread_ = std::thread(&GatewayLink::RunWatchdog, this);
}

void GatewayLink::Stop() {
  absl::MutexLock lifecycle(&lifecycle_mu_);
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    // Wakes the stream thread from its Read; the backoff wait and the
    // watchdog wake as the lock is released.
    if (control_ != nullptr) control_->Cancel();
  }
  if (stream_thread_.joinable()) stream_thread_.join();
  if (watchdog_thread_.joinable()) watchdog_thread_.join();
}

GatewayStatus GatewayLink::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

void GatewayLink::RunStreams() {
  absl::BitGen gen;
  int failures = 0;  // Streams failed since the last complete snapshot.
  for (bool first = true;; first = false) {
    if (!first) {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      ++status_.reconnects;
    }
    const std::string error = DescribeFailure(address_, WatchOnce(&failures));
    const absl::Duration backoff = BackoffFor(failures, options_, gen);
    failures = std::min(failures + 1, kMaxCountedFailures);
    bool changed;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      changed = SetStateLocked(GatewayState::kUnreachable) || status_.synced ||
                error != status_.last_error;
      status_.last_error = error;
      status_.synced = false;
    }
    // A gateway that stays down says so once, not at every retry.
    if (changed) {
      spdlog::warn("gateway {}: {}; retrying in {}", name_, error,
                   absl::FormatDuration(backoff));
      Notify();
    } else {
      spdlog::debug("gateway {}: {}; retrying in {}", name_, error,
                    absl::FormatDuration(backoff));
    }
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
    if (stopping_) return;
  }
}

absl::Status GatewayLink::WatchOnce(int* failures) {
  // A channel per stream: a channel kept across an agent's restart would
  // add gRPC's own reconnect backoff (up to two minutes) to ours.
  absl::StatusOr<std::unique_ptr<AgentClient>> client =
      AgentClient::Connect(address_, options_.client);
  if (!client.ok()) return client.status();

  WatchControl control;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::OkStatus();
    control_ = &control;
    stream_heard_ = absl::Now();
    stream_synced_ = false;
    abandoned_.clear();
    ++watchdog_epoch_;
  }
  v1::WatchRequest request;
  request.set_top_n(options_.top_n);
  *request.mutable_heartbeat_interval() =
      google::protobuf::util::TimeUtil::NanosecondsToDuration(
          absl::ToInt64Nanoseconds(options_.heartbeat));
  // Fresh for every stream: nothing of an earlier stream (a snapshot cut
  // off halfway, another instance's generations) carries over.
  WatchView view(/*track_messages=*/false);
  const absl::Status ended = (*client)->Watch(
      request,
      [&](const v1::WatchEvent& event) {
        return OnEvent(event, &view, failures);
      },
      &control);

  std::string abandoned;
  {
    absl::MutexLock lock(&mu_);
    control_ = nullptr;
    stream_synced_ = false;
    abandoned.swap(abandoned_);
    ++watchdog_epoch_;
    if (stopping_) return absl::OkStatus();
  }
  if (!abandoned.empty()) return absl::DeadlineExceededError(abandoned);
  // Watch is OK when cancelled (not by us, then) or ended cleanly; an agent
  // never ends a watch on its own unless it is going away.
  if (ended.ok()) return absl::UnavailableError("the agent ended the watch");
  return ended;
}

absl::Status GatewayLink::OnEvent(const v1::WatchEvent& event, WatchView* view,
                                  int* failures) {
  const bool was_synced = view->synced();
  // An event that breaks the stream's rules ends the stream with the error;
  // the next one starts over with a snapshot.
  if (absl::Status applied = view->Apply(event); !applied.ok()) return applied;
  const absl::Time now = absl::Now();
  bool changed = false;
  {
    absl::MutexLock lock(&mu_);
    status_.last_heard = now;
    stream_heard_ = now;
    // Snapshot parts still arriving: the status keeps what it had.
    if (!view->synced()) return absl::OkStatus();
    if (!was_synced) {
      stream_synced_ = true;
      ++watchdog_epoch_;
      *failures = 0;
      changed = true;
      if (!status_.instance_id.empty() &&
          status_.instance_id != view->instance_id()) {
        spdlog::info("gateway {}: the agent restarted (instance {}, was {})",
                     name_, view->instance_id(), status_.instance_id);
      }
    }
    changed = changed || status_.generation != view->generation() ||
              !MessageDifferencer::Equals(status_.summary, view->summary());
    if (changed) {
      status_.instance_id = view->instance_id();
      status_.generation = view->generation();
      status_.agent = view->agent();
      status_.summary = view->summary();
      status_.synced = true;
    }
    if (SetStateLocked(GatewayState::kConnected)) {
      ++watchdog_epoch_;  // Back from stale: the stale deadline is nearer.
      changed = true;
    }
  }
  if (changed) Notify();
  return absl::OkStatus();
}

void GatewayLink::RunWatchdog() {
  while (true) {
    bool notify = false;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      const absl::Time next = CheckStreamLocked(absl::Now(), &notify);
      if (!notify) {
        // Until the next deadline, or until one moves nearer.
        const int64_t epoch = watchdog_epoch_;
        auto woken = [this, epoch]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || watchdog_epoch_ != epoch;
        };
        mu_.AwaitWithDeadline(absl::Condition(&woken), next);
        continue;
      }
    }
    Notify();
  }
}

absl::Time GatewayLink::CheckStreamLocked(absl::Time now, bool* notify) {
  // No stream, or one being cancelled: closing it wakes the watchdog.
  if (control_ == nullptr || !abandoned_.empty()) return absl::InfiniteFuture();
  if (!stream_synced_) {
    const absl::Time due = stream_heard_ + options_.connect_timeout;
    if (now < due) return due;
    AbandonStreamLocked(
        absl::StrCat("no complete snapshot from the agent within ",
                     absl::FormatDuration(options_.connect_timeout)));
    return absl::InfiniteFuture();
  }
  // Stale first, for a while, so that a heartbeat merely late (a loaded
  // agent, a slow link) does not cost a new snapshot; then give up.
  const absl::Time give_up = stream_heard_ + 2 * options_.stale_after;
  if (now >= give_up) {
    AbandonStreamLocked(
        absl::StrCat("nothing heard from the agent for ",
                     absl::FormatDuration(2 * options_.stale_after)));
    return absl::InfiniteFuture();
  }
  const absl::Time stale = stream_heard_ + options_.stale_after;
  if (now < stale) return stale;
  if (SetStateLocked(GatewayState::kStale)) *notify = true;
  return give_up;
}

void GatewayLink::AbandonStreamLocked(std::string reason) {
  abandoned_ = std::move(reason);
  control_->Cancel();
}

bool GatewayLink::SetStateLocked(GatewayState state) {
  if (status_.state == state) return false;
  spdlog::info("gateway {}: {} (was {})", name_, GatewayStateName(state),
               GatewayStateName(status_.state));
  status_.state = state;
  return true;
}

void GatewayLink::Notify() {
  if (!on_change_) return;
  absl::MutexLock serial(&notify_mu_);
  GatewayStatus current;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    current = status_;
  }
  on_change_(current);
}

}  // namespace mailfleet::controller
