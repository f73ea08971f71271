// `watch` as text, in two shapes. Piped, a log: one line per change and per
// snapshot, for grep and awk:
//
//   12:00:00 42 snapshot 3 messages (initial)
//   12:00:05 43 moved   4XyZ1b2C3d deferred->hold alice@example.com
//
// At a terminal, a screen redrawn in place: a header, the summary tables of
// `summary`, and the last few changes:
//
//   agent gw1 instance 7f3a generation 43, updated 12:00:05
//   ...
//   12:00:05 moved   4XyZ1b2C3d deferred -> hold
//
// Strings from the queue are sanitized as everywhere else.
#ifndef MAILFLEET_CLIENT_CLI_WATCH_TEXT_H_
#define MAILFLEET_CLIENT_CLI_WATCH_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "absl/time/time.h"
#include "client/cli/terminal_text.h"
#include "mailfleet/v1/agent.pb.h"

namespace mailfleet::cli {

// What a complete snapshot held, from the WatchView that took it in: its
// last part alone does not say.
struct SnapshotNote {
  int64_t messages = 0;  // By the snapshot's summary.
  // As its first part gave it.
  v1::WatchSnapshot::Reason reason = v1::WatchSnapshot::REASON_UNSPECIFIED;
  bool restarted = false;  // From another instance than the one before.
};

// The log lines of one event, with `wide` the recipients after the sender
// (known only when the watch includes messages). A snapshot gets its line
// with its last part (`note` says what it held); heartbeats get none.
void AppendWatchLogLines(const v1::WatchEvent& event, const SnapshotNote& note,
                         bool wide, const DisplayContext& display,
                         std::string* out);

// The last `capacity` lines of the screen's list of changes.
class RecentChanges {
 public:
  explicit RecentChanges(size_t capacity) : capacity_(capacity) {}

  // Formats only the changes that stay in the list: a delta that moves
  // 100,000 messages costs `capacity` lines.
  void Add(const v1::WatchEvent& event, const SnapshotNote& note,
           const DisplayContext& display);
  const std::deque<std::string>& lines() const { return lines_; }

 private:
  void Push(std::string line);

  size_t capacity_;
  std::deque<std::string> lines_;
};

// What one redraw shows; copied out of the watch's state so that drawing
// holds no lock.
struct WatchScreenFrame {
  std::string host;
  std::string instance_id;
  int64_t generation = 0;
  absl::Time updated;
  v1::QueueSummary summary;
  std::deque<std::string> recent;
};

// Clears the screen and draws `frame`; ages are measured from its update.
void AppendWatchScreen(const WatchScreenFrame& frame,
                       const DisplayContext& display, std::string* out);

// The escape sequence that homes the cursor and clears the screen.
inline constexpr char kClearScreen[] = "\x1b[H\x1b[2J";

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_WATCH_TEXT_H_
