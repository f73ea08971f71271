// Reads the MPA spool: the items of its four queues (outgoing, error,
// spool, respool) into the same message record as Postfix's queue, so that
// one index, one filter and one Watch stream serve both. tmp/ is never
// read: items there are still being written.
//
// An item exists exactly when its .eml does. One whose .env is missing or
// malformed is listed all the same, with parse_error saying what is wrong
// (the operator has to see it to deal with it), and reported as a scan
// problem. An item that vanishes mid-scan (respooled, delivered) is
// skipped. Nothing is ever written. Thread-safe.
#ifndef MAILFLEET_AGENT_MPA_SPOOL_READER_H_
#define MAILFLEET_AGENT_MPA_SPOOL_READER_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/postfix/queue_reader.h"
#include "common/message.h"
#include "common/os/filesystem.h"

namespace mailfleet::mpa {

inline constexpr QueueKind kSpoolQueues[] = {
    QueueKind::kMpaOutgoing, QueueKind::kMpaError, QueueKind::kMpaSpool,
    QueueKind::kMpaRespool};

// "outgoing", "error", "spool", "respool": the queue's directory name.
absl::string_view SpoolDirName(QueueKind queue);

// The spool's layout, in one place for the reader, the actions and the
// writer: "<root>/<dir>" and "<root>/<dir>/<id><ext>". `id` must be valid.
std::string SpoolQueuePath(absl::string_view root, QueueKind queue);
std::string SpoolItemPath(absl::string_view root, QueueKind queue,
                          absl::string_view id, absl::string_view ext);

class SpoolReader {
 public:
  // `fs` must outlive the reader.
  SpoolReader(Filesystem* fs, std::string root);

  const std::string& root() const { return root_; }

  // Feeds every item of every queue to `sink`. Fails only if a queue
  // directory exists but cannot be listed (publishing the others alone
  // would make its items look gone).
  absl::Status Scan(postfix::ScanSink* sink) const;

  // One item; NOT_FOUND if its .eml is not in `queue`. `id` must be valid.
  absl::StatusOr<Message> ReadItem(QueueKind queue, absl::string_view id) const;

  // The item wherever it is now, looking in `hint` first (an item moves
  // between queues under the same id); NOT_FOUND if in none.
  absl::StatusOr<Message> FindItem(absl::string_view id,
                                   std::optional<QueueKind> hint) const;

  // Streams the raw message (the .eml) to `sink` in chunks of at most
  // 64 KiB; a sink error ends the read and is returned. NOT_FOUND if the
  // item left `queue`.
  absl::Status ReadContent(
      QueueKind queue, absl::string_view id,
      const std::function<absl::Status(absl::string_view)>& sink) const;

  // "<root>/<queue>/<id><ext>"; `id` must be valid.
  std::string ItemPath(QueueKind queue, absl::string_view id,
                       absl::string_view ext) const;

 private:
  // False if the item is gone; `problem` set when it is listed damaged.
  bool Read(QueueKind queue, absl::string_view id, Message& m,
            std::optional<postfix::ScanProblem>& problem) const;

  Filesystem* fs_;
  std::string root_;
};

}  // namespace mailfleet::mpa

#endif  // MAILFLEET_AGENT_MPA_SPOOL_READER_H_
