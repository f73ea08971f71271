// WatchView folds the events of one agent's Watch stream into what the
// watcher currently knows: the agent, its instance and generation, the
// summary of the messages the watch's filter selects, and (when asked to)
// those messages themselves, by queue id. The CLI's `watch` draws from it;
// the controller keeps one per gateway.
//
// A snapshot arrives in parts; the view keeps showing what it held until
// the last part is in, then replaces everything at once, so that a reader
// never sees half a snapshot. Deltas and heartbeats apply to a complete
// snapshot only; an event that breaks the stream's rules (a delta whose
// generation does not grow, a part of another snapshot, another instance
// without a snapshot) is refused with an error and changes nothing.
//
// Not thread-safe; no gRPC: events in, state out.
#ifndef MAILFLEET_CLIENT_WATCH_VIEW_H_
#define MAILFLEET_CLIENT_WATCH_VIEW_H_

#include <cstdint>
#include <memory>
#include <string>

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "mailfleet/v1/agent.pb.h"

namespace mailfleet {

// Merges `update` into `summary` by the rules of SummaryUpdate: each listed
// queue replaces the one of its kind (and is dropped when it has emptied),
// the totals, the oldest message and the scan problem count are always
// replaced, and the top lists only when present, wholesale. The first few
// scan problems of the snapshot are kept until the count drops to zero.
void ApplySummaryUpdate(const v1::SummaryUpdate& update,
                        v1::QueueSummary* summary);

class WatchView {
 public:
  // Postfix queue ids and MPA item ids are separate namespaces (one string
  // may name one of each): messages are held by (is MPA item, id).
  using MessageKey = std::pair<bool, std::string>;
  using MessageMap = absl::flat_hash_map<MessageKey, v1::Message>;
  static MessageKey KeyOf(const v1::Message& message);

  // With `track_messages`, keeps every message the watch lists and changes
  // (the watch must then have include_messages).
  explicit WatchView(bool track_messages = false)
      : track_messages_(track_messages) {}

  // Folds `event` in; on an error the view is as it was.
  absl::Status Apply(const v1::WatchEvent& event);

  // A snapshot has been received whole: the accessors below mean something.
  bool synced() const { return synced_; }
  // The parts of a snapshot are arriving (the view still shows the last).
  bool receiving_snapshot() const { return pending_ != nullptr; }

  const std::string& instance_id() const { return instance_id_; }
  int64_t generation() const { return generation_; }
  // From the last snapshot's first part (the agent with the generation
  // kept current).
  const v1::AgentInfo& agent() const { return agent_; }
  v1::WatchSnapshot::Reason snapshot_reason() const { return reason_; }
  const v1::QueueSummary& summary() const { return summary_; }
  // Empty unless tracking messages.
  const MessageMap& messages() const { return messages_; }
  // The time of the last event applied, as the agent stamped it.
  const google::protobuf::Timestamp& time() const { return time_; }

  // Complete snapshots applied, and of those how many came from a new
  // instance of the agent (it restarted) after the first.
  int64_t snapshots() const { return snapshots_; }
  int64_t restarts() const { return restarts_; }

 private:
  // A snapshot whose last part has not arrived yet.
  struct PendingSnapshot {
    std::string instance_id;
    int64_t generation = 0;
    v1::WatchSnapshot::Reason reason = v1::WatchSnapshot::REASON_UNSPECIFIED;
    v1::AgentInfo agent;
    v1::QueueSummary summary;
    MessageMap messages;
  };

  absl::Status ApplySnapshotPart(const v1::WatchEvent& event);
  absl::Status ApplyDelta(const v1::WatchEvent& event);
  absl::Status ApplyHeartbeat(const v1::WatchEvent& event);
  // What deltas and heartbeats need: a complete snapshot of this instance
  // and no snapshot in the middle of its parts.
  absl::Status CheckFollowsSnapshot(const v1::WatchEvent& event) const;
  void ApplyChange(const v1::MessageChange& change);

  const bool track_messages_;
  bool synced_ = false;
  std::string instance_id_;
  int64_t generation_ = 0;
  v1::AgentInfo agent_;
  v1::WatchSnapshot::Reason reason_ = v1::WatchSnapshot::REASON_UNSPECIFIED;
  v1::QueueSummary summary_;
  MessageMap messages_;
  google::protobuf::Timestamp time_;
  int64_t snapshots_ = 0;
  int64_t restarts_ = 0;
  std::unique_ptr<PendingSnapshot> pending_;
};

}  // namespace mailfleet

#endif  // MAILFLEET_CLIENT_WATCH_VIEW_H_
