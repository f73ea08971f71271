// `watch` at a terminal. The watching thread folds each event into a
// WatchView (Apply); a thread of its own redraws the screen from it at most
// once per interval, so that a burst of deltas costs one redraw and the
// state after the burst is drawn even when the stream then goes quiet
// until the next heartbeat.
//
// Thread-safe: Apply from the watching thread while the drawing thread
// runs; Finish once, at the end. The Output belongs to the drawing thread
// until Finish returns.
#ifndef MAILFLEET_CLIENT_CLI_WATCH_SCREEN_H_
#define MAILFLEET_CLIENT_CLI_WATCH_SCREEN_H_

#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/cli/output.h"
#include "client/cli/watch_text.h"
#include "client/watch_view.h"
#include "mailfleet/v1/agent.pb.h"

namespace mailfleet::cli {

class WatchScreen {
 public:
  // Changes listed under the summary.
  static constexpr size_t kRecentChanges = 10;

  // `agent_address` names the agent until its snapshot says its hostname.
  WatchScreen(Output& out, std::string agent_address,
              absl::Duration min_interval);
  // Finishes, if Finish was not called.
  ~WatchScreen();

  WatchScreen(const WatchScreen&) = delete;
  WatchScreen& operator=(const WatchScreen&) = delete;

  // Folds `event` in and has the screen redrawn. Fails on an event the
  // view refuses, or when drawing failed (the terminal is gone).
  absl::Status Apply(const v1::WatchEvent& event);

  // Draws what is not drawn yet and stops the drawing thread. Returns the
  // first drawing error.
  absl::Status Finish();

 private:
  void DrawLoop();
  bool DrawDueLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return dirty_ || stopping_;
  }
  WatchScreenFrame FrameLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Output& out_;
  const DisplayContext display_;
  const std::string agent_address_;
  const absl::Duration min_interval_;

  mutable absl::Mutex mu_;
  WatchView view_ ABSL_GUARDED_BY(mu_);
  RecentChanges recent_ ABSL_GUARDED_BY(mu_) = RecentChanges(kRecentChanges);
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status draw_status_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // Last: starts once the rest is ready.
};

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_WATCH_SCREEN_H_
