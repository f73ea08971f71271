#include "client/cli/watch_text.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/cli/summary_table.h"
#include "proto/queue_kind_proto.h"

namespace mailfleet::cli {
namespace {

// The longest kind, "removed" and "changed", sets the column.
constexpr size_t kKindWidth = 7;

absl::string_view KindName(int kind) {
  switch (kind) {
    case v1::MessageChange::ADDED:
      return "added";
    case v1::MessageChange::REMOVED:
      return "removed";
    case v1::MessageChange::MOVED:
      return "moved";
    case v1::MessageChange::CHANGED:
      return "changed";
    default:
      return "unknown";
  }
}

absl::string_view QueueName(int queue) {
  return queue == v1::QUEUE_KIND_UNSPECIFIED ? "-" : ProtoQueueKindName(queue);
}

// The agent's time of the event, or now without one.
absl::Time EventTime(const v1::WatchEvent& event,
                     const DisplayContext& display) {
  return event.has_time() ? ToTime(event.time()) : display.now;
}

// "12:00:05" in the display zone.
void AppendClock(absl::Time time, const DisplayContext& display,
                 std::string* out) {
  const absl::CivilSecond cs = display.zone.At(time).cs;
  const auto put2 = [out](int value) {
    out->push_back(static_cast<char>('0' + value / 10 % 10));
    out->push_back(static_cast<char>('0' + value % 10));
  };
  put2(cs.hour());
  out->push_back(':');
  put2(cs.minute());
  out->push_back(':');
  put2(cs.second());
}

void AppendSnapshotText(const SnapshotNote& note, std::string* out) {
  absl::StrAppend(out, "snapshot ", note.messages,
                  note.messages == 1 ? " message (" : " messages (");
  switch (note.reason) {
    case v1::WatchSnapshot::REASON_INITIAL:
      out->append("initial");
      break;
    case v1::WatchSnapshot::REASON_RESYNC:
      out->append("resync");
      break;
    default:
      out->append("unknown reason");
      break;
  }
  if (note.restarted) out->append(", agent restarted");
  out->push_back(')');
}

// "moved   4XyZ1b2C3d deferred" then `arrow` then "hold".
void AppendChangeText(const v1::MessageChange& change, absl::string_view arrow,
                      std::string* out) {
  AppendPaddedLeft(KindName(change.kind()), kKindWidth + 1, out);
  AppendSanitized(change.queue_id(), out);
  absl::StrAppend(out, " ", QueueName(change.from_queue()), arrow,
                  QueueName(change.to_queue()));
}

void AppendRecipients(const v1::Message& message, std::string* out) {
  for (int i = 0; i < message.recipients_size(); ++i) {
    out->append(i == 0 ? " " : ",");
    AppendSanitized(message.recipients(i).address(), out);
  }
}

}  // namespace

void AppendWatchLogLines(const v1::WatchEvent& event, const SnapshotNote& note,
                         bool wide, const DisplayContext& display,
                         std::string* out) {
  std::string prefix;
  AppendClock(EventTime(event, display), display, &prefix);
  absl::StrAppend(&prefix, " ", event.generation(), " ");
  if (event.has_snapshot()) {
    if (!event.snapshot().last()) return;
    out->append(prefix);
    AppendSnapshotText(note, out);
    out->push_back('\n');
    return;
  }
  if (!event.has_delta()) return;
  for (const v1::MessageChange& change : event.delta().changes()) {
    out->append(prefix);
    AppendChangeText(change, "->", out);
    if (change.has_message()) {
      const v1::Message& message = change.message();
      if (!message.sender().empty()) {
        out->push_back(' ');
        AppendSanitized(message.sender(), out);
      }
      if (wide) AppendRecipients(message, out);
    }
    out->push_back('\n');
  }
}

void RecentChanges::Push(std::string line) {
  lines_.push_back(std::move(line));
  while (lines_.size() > capacity_) lines_.pop_front();
}

void RecentChanges::Add(const v1::WatchEvent& event, const SnapshotNote& note,
                        const DisplayContext& display) {
  if (capacity_ == 0) return;
  std::string clock;
  AppendClock(EventTime(event, display), display, &clock);
  clock.push_back(' ');
  if (event.has_snapshot()) {
    if (!event.snapshot().last()) return;
    std::string line = clock;
    AppendSnapshotText(note, &line);
    Push(std::move(line));
    return;
  }
  if (!event.has_delta()) return;
  const auto& changes = event.delta().changes();
  const int first = std::max(0, changes.size() - static_cast<int>(capacity_));
  for (int i = first; i < changes.size(); ++i) {
    std::string line = clock;
    AppendChangeText(changes[i], " -> ", &line);
    Push(std::move(line));
  }
}

void AppendWatchScreen(const WatchScreenFrame& frame,
                       const DisplayContext& display, std::string* out) {
  out->append(kClearScreen);
  out->append("agent ");
  AppendSanitized(frame.host.empty() ? "?" : frame.host, out);
  out->append(" instance ");
  AppendSanitized(frame.instance_id.empty() ? "?" : frame.instance_id, out);
  absl::StrAppend(out, " generation ", frame.generation, ", updated ");
  AppendClock(frame.updated, display, out);
  out->append("\n\n");
  AppendQueueSummary(frame.summary, DisplayContext{frame.updated, display.zone},
                     out);
  if (!frame.recent.empty()) {
    out->push_back('\n');
    for (const std::string& line : frame.recent) {
      out->append(line);
      out->push_back('\n');
    }
  }
}

}  // namespace mailfleet::cli
