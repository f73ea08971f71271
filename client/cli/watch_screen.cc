#include "client/cli/watch_screen.h"

#include <utility>

#include "client/cli/terminal_text.h"

namespace mailfleet::cli {

WatchScreen::WatchScreen(Output& out, std::string agent_address,
                         absl::Duration min_interval)
    : out_(out),
      display_(out.display()),
      agent_address_(std::move(agent_address)),
      min_interval_(min_interval),
      thread_([this] { DrawLoop(); }) {}

WatchScreen::~WatchScreen() { Finish().IgnoreError(); }

absl::Status WatchScreen::Apply(const v1::WatchEvent& event) {
  absl::MutexLock lock(&mu_);
  if (!draw_status_.ok()) return draw_status_;
  const int64_t restarts = view_.restarts();
  if (absl::Status status = view_.Apply(event); !status.ok()) return status;
  recent_.Add(
      event,
      SnapshotNote{view_.summary().total_messages(), view_.snapshot_reason(),
                   view_.restarts() > restarts},
      display_);
  // Nothing to show before the first snapshot is complete.
  if (view_.synced()) dirty_ = true;
  return absl::OkStatus();
}

absl::Status WatchScreen::Finish() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  return draw_status_;
}

WatchScreenFrame WatchScreen::FrameLocked() const {
  WatchScreenFrame frame;
  frame.host = view_.agent().hostname().empty() ? agent_address_
                                                : view_.agent().hostname();
  frame.instance_id = view_.instance_id();
  frame.generation = view_.generation();
  const google::protobuf::Timestamp& time = view_.time();
  frame.updated =
      time.seconds() != 0 || time.nanos() != 0 ? ToTime(time) : display_.now;
  frame.summary = view_.summary();
  frame.recent = recent_.lines();
  return frame;
}

void WatchScreen::DrawLoop() {
  absl::Time last_draw = absl::InfinitePast();
  while (true) {
    WatchScreenFrame frame;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &WatchScreen::DrawDueLocked));
      if (!dirty_) return;  // Stopping, with everything drawn.
      // Let more events arrive until the interval is over; the last state
      // is drawn right away when stopping.
      mu_.AwaitWithDeadline(absl::Condition(&stopping_),
                            last_draw + min_interval_);
      frame = FrameLocked();
      dirty_ = false;
    }
    absl::Status status = out_.DrawWatchScreen(frame);
    last_draw = absl::Now();
    if (!status.ok()) {
      absl::MutexLock lock(&mu_);
      draw_status_ = status;
      return;
    }
  }
}

}  // namespace mailfleet::cli
