#include "controller/service/fleet_watch.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/request_checks.h"
#include "controller/config/label_selector.h"
#include "controller/service/controller_service.h"
#include "proto/time_proto.h"

namespace mailfleet::controller {
namespace {

std::shared_ptr<const v1::Gateway> GatewayProto(const GatewayView& view) {
  auto gateway = std::make_shared<v1::Gateway>();
  ToProto(view, gateway.get());
  return gateway;
}

// A call refused before it streams anything.
class Refusal final : public grpc::ServerWriteReactor<v1::FleetWatchEvent> {
 public:
  explicit Refusal(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

// What a watcher asked for, matched again against each reading of the file.
struct Selection {
  std::optional<std::set<std::string>> names;
  std::optional<LabelSelector> labels;

  bool Holds(const Gateway& gateway) const {
    if (names) return names->count(gateway.name) > 0;
    if (labels) return labels->Matches(gateway.labels);
    return true;
  }
};

// `selector` as SelectFromProto accepted it: names, labels, or all.
absl::StatusOr<Selection> SelectionFromProto(
    const v1::GatewaySelector& selector) {
  Selection selection;
  if (!selector.names().empty()) {
    selection.names.emplace(selector.names().begin(), selector.names().end());
  } else if (!selector.label_selector().empty()) {
    absl::StatusOr<LabelSelector> labels =
        LabelSelector::Parse(selector.label_selector());
    if (!labels.ok()) return labels.status();
    selection.labels = *std::move(labels);
  }
  return selection;
}

}  // namespace

absl::StatusOr<absl::Duration> FleetHeartbeatFromProto(
    const v1::FleetWatchRequest& request) {
  if (!request.has_heartbeat_interval()) return kDefaultFleetHeartbeat;
  absl::StatusOr<absl::Duration> given =
      FromProto(request.heartbeat_interval(), "heartbeat_interval");
  if (!given.ok()) return given.status();
  const absl::Duration interval = *given;
  if (interval < kMinFleetHeartbeat || interval > kMaxFleetHeartbeat) {
    return absl::InvalidArgumentError(absl::StrCat(
        "heartbeat_interval must be between 1s and 10m, not ",
        absl::FormatDuration(interval)));
  }
  return interval;
}

// One Watch call. The hub decides what it hears (under the hub's lock);
// the watcher decides when to write it (under its own). Writes and Finish
// start under those locks: gRPC 1.51 never runs a server reactor's
// reactions inline, so OnWriteDone and OnDone, which take them, cannot
// deadlock; the hub's lock is what keeps a watcher alive meanwhile.
class FleetWatchHub::Watcher final
    : public grpc::ServerWriteReactor<v1::FleetWatchEvent> {
 public:
  Watcher(FleetWatchHub* hub, Selection selection, absl::Duration heartbeat,
          std::set<std::string> selected)
      : selection(std::move(selection)),
        selected(std::move(selected)),
        hub_(hub),
        heartbeat_(heartbeat) {}

  const Selection selection;
  // The gateways in the selection now, as last told to the client (or
  // about to be). Guarded by the hub's mu_.
  std::set<std::string> selected;

  // Writes the snapshot: the first event, before any Push.
  void Start(v1::FleetWatchEvent snapshot) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    event_ = std::move(snapshot);
    WriteLocked(absl::Now());
  }

  // Queues `name`'s latest: the whole gateway, or null when it left. An
  // update not yet written is replaced, keeping its place in the queue.
  void Push(const std::string& name, std::shared_ptr<const v1::Gateway> gateway,
            absl::Time at) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    auto [it, added] = pending_.try_emplace(name);
    if (added) order_.push_back(name);
    it->second = Update{std::move(gateway), at};
    if (!writing_) WriteNextLocked();
  }

  // Writes a heartbeat if nothing was written for the interval and nothing
  // is on its way; returns when to look again.
  absl::Time HeartbeatIfDue(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (finished_) return absl::InfiniteFuture();
    const absl::Time due = last_write_ + heartbeat_;
    if (writing_ || !order_.empty()) return std::max(due, now + heartbeat_ / 2);
    if (now < due) return due;
    event_.Clear();
    SetTimestamp(now, event_.mutable_time());
    event_.mutable_heartbeat();
    WriteLocked(now);
    return now + heartbeat_;
  }

  void End(grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    FinishLocked(std::move(status));
  }

  void OnWriteDone(bool ok) ABSL_LOCKS_EXCLUDED(mu_) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (finish_due_) {
      Finish(*std::move(finish_due_));
      finish_due_.reset();
      return;
    }
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED,
                                "the watch could not be written"));
      return;
    }
    WriteNextLocked();
  }

  void OnCancel() ABSL_LOCKS_EXCLUDED(mu_) override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    hub_->Unregister(this);
    delete this;
  }

 private:
  struct Update {
    std::shared_ptr<const v1::Gateway> gateway;  // null: removed
    absl::Time at;
  };

  void WriteLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    last_write_ = now;
    StartWrite(&event_);
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || order_.empty()) return;
    const std::string name = std::move(order_.front());
    order_.pop_front();
    auto node = pending_.extract(name);
    const Update& update = node.mapped();
    event_.Clear();
    SetTimestamp(update.at, event_.mutable_time());
    if (update.gateway != nullptr) {
      *event_.mutable_gateway() = *update.gateway;
    } else {
      event_.set_removed(name);
    }
    WriteLocked(absl::Now());
  }

  // Once only; after the write in flight, since none may start after
  // Finish and event_ must live until it is done.
  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    pending_.clear();
    order_.clear();
    if (writing_) {
      finish_due_ = std::move(status);
    } else {
      Finish(std::move(status));
    }
  }

  FleetWatchHub* const hub_;
  const absl::Duration heartbeat_;

  absl::Mutex mu_;
  // The event being written, untouched until OnWriteDone.
  v1::FleetWatchEvent event_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_write_ ABSL_GUARDED_BY(mu_);
  // Finish is called (or due once the write in flight is done).
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_due_ ABSL_GUARDED_BY(mu_);
  // One update per gateway, oldest first: bounded by the fleet's size.
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Update> pending_ ABSL_GUARDED_BY(mu_);
};

FleetWatchHub::FleetWatchHub(FleetWatchOptions options)
    : options_(options) {
  heartbeat_thread_ = std::thread([this] { RunHeartbeats(); });
}

FleetWatchHub::~FleetWatchHub() { Shutdown(); }

Fleet::ChangeCallback FleetWatchHub::ChangeCallback() {
  return [this](const GatewayStatus& status) { OnChange(status); };
}

void FleetWatchHub::OnChange(const GatewayStatus& status) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  auto config = gateways_.find(status.name);
  // A link Apply started and OnApply has not yet been told of (or one it
  // replaced): OnApply sends the gateway whole, as the fleet has it then.
  if (config == gateways_.end() || config->second.address != status.address) {
    return;
  }
  std::shared_ptr<const v1::Gateway> gateway;
  const absl::Time now = absl::Now();
  for (Watcher* watcher : watchers_) {
    if (watcher->selected.count(status.name) == 0) continue;
    if (gateway == nullptr) gateway = GatewayProto({config->second, status});
    watcher->Push(status.name, gateway, now);
  }
}

void FleetWatchHub::OnApply(const Fleet& fleet, const GatewayChanges& changes) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  const std::vector<GatewayView> views = fleet.Gateways();
  gateways_.clear();
  for (const GatewayView& view : views) {
    gateways_.emplace(view.config.name, view.config);
  }
  // Their address or labels changed, or they are new: sent whole to every
  // watcher that selects them, even one that already had them.
  std::set<std::string> changed;
  for (const Gateway& gateway : changes.added) changed.insert(gateway.name);
  for (const Gateway& gateway : changes.changed) changed.insert(gateway.name);

  std::vector<std::shared_ptr<const v1::Gateway>> whole(views.size());
  const absl::Time now = absl::Now();
  for (Watcher* watcher : watchers_) {
    std::set<std::string> selected;
    for (const GatewayView& view : views) {
      if (watcher->selection.Holds(view.config)) {
        selected.insert(view.config.name);
      }
    }
    for (const std::string& name : watcher->selected) {
      if (selected.count(name) == 0) watcher->Push(name, nullptr, now);
    }
    for (size_t i = 0; i < views.size(); ++i) {
      const std::string& name = views[i].config.name;
      if (selected.count(name) == 0) continue;
      if (watcher->selected.count(name) > 0 && changed.count(name) == 0) {
        continue;
      }
      if (whole[i] == nullptr) whole[i] = GatewayProto(views[i]);
      watcher->Push(name, whole[i], now);
    }
    watcher->selected = std::move(selected);
  }
}

grpc::ServerWriteReactor<v1::FleetWatchEvent>* FleetWatchHub::Watch(
    const Fleet& fleet, const v1::FleetWatchRequest& request) {
  absl::StatusOr<absl::Duration> heartbeat = FleetHeartbeatFromProto(request);
  if (!heartbeat.ok()) return new Refusal(ToGrpc(heartbeat.status()));
  // Under the lock from the fleet's reading to the registration, so that
  // every change after the snapshot reaches the new watcher.
  absl::MutexLock lock(&mu_);
  if (shut_down_) {
    return new Refusal(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                    "the controller is shutting down"));
  }
  if (static_cast<int>(watchers_.size()) >= options_.max_watchers) {
    return new Refusal(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("the controller serves ", options_.max_watchers,
                     " fleet watches at most; try again later")));
  }
  absl::StatusOr<std::vector<GatewayView>> views =
      SelectFromProto(fleet, request.selector());
  // A label selector that matches no gateway yet still watches for those a
  // reload may bring.
  if (!views.ok() && absl::IsNotFound(views.status()) &&
      !request.selector().label_selector().empty()) {
    views = std::vector<GatewayView>();
  }
  if (!views.ok()) return new Refusal(ToGrpc(views.status()));
  absl::StatusOr<Selection> selection = SelectionFromProto(request.selector());
  if (!selection.ok()) return new Refusal(ToGrpc(selection.status()));

  v1::FleetWatchEvent snapshot;
  SetTimestamp(absl::Now(), snapshot.mutable_time());
  snapshot.mutable_snapshot();  // Set even when it selects nothing yet.
  std::set<std::string> selected;
  for (const GatewayView& view : *views) {
    ToProto(view, snapshot.mutable_snapshot()->add_gateways());
    selected.insert(view.config.name);
  }
  auto* watcher = new Watcher(this, *std::move(selection), *heartbeat,
                              std::move(selected));
  watchers_.insert(watcher);
  ++heartbeat_epoch_;
  watcher->Start(std::move(snapshot));
  return watcher;
}

void FleetWatchHub::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
    for (Watcher* watcher : watchers_) {
      watcher->End(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                "the controller is shutting down"));
    }
  }
  heartbeat_thread_.join();
}

int FleetWatchHub::watcher_count() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(watchers_.size());
}

void FleetWatchHub::Unregister(Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
}

void FleetWatchHub::RunHeartbeats() {
  absl::MutexLock lock(&mu_);
  while (!shut_down_) {
    const absl::Time now = absl::Now();
    absl::Time next = now + kMaxFleetHeartbeat;
    for (Watcher* watcher : watchers_) {
      next = std::min(next, watcher->HeartbeatIfDue(now));
    }
    const int64_t epoch = heartbeat_epoch_;
    auto woken = [this, epoch]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return shut_down_ || heartbeat_epoch_ != epoch;
    };
    mu_.AwaitWithDeadline(absl::Condition(&woken), next);
  }
}

grpc::ServerWriteReactor<v1::FleetWatchEvent>* ControllerServiceImpl::Watch(
    grpc::CallbackServerContext* context, const v1::FleetWatchRequest* request) {
  if (auto who = access_->Check(*context, Permission::kView); !who.ok()) {
    return new Refusal(ToGrpc(who.status()));
  }
  if (hub_ == nullptr) {
    return new Refusal(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                    "this controller serves no fleet watch"));
  }
  return hub_->Watch(*fleet_, *request);
}

}  // namespace mailfleet::controller
