// Reads a Postfix queue directory natively, the way showq(8) does but on
// several threads: every queue (hashed subdirectories included), each
// message's envelope, and its defer logfile for the delay reasons. The
// result equals what `postqueue -j` lists for the same files.
//
// Reading races with Postfix by design: a file that vanishes or is still
// being written (mode 0600) is skipped silently; one that cannot be parsed
// is reported, and the scan goes on. Nothing is ever locked or written.
// Thread-safe: every method may be called concurrently.
#ifndef MAILFLEET_AGENT_POSTFIX_QUEUE_READER_H_
#define MAILFLEET_AGENT_POSTFIX_QUEUE_READER_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/postfix/postfix_config.h"
#include "common/message.h"
#include "common/os/filesystem.h"

namespace mailfleet::postfix {

struct ScanProblem {
  QueueKind queue = QueueKind::kUnknown;
  std::string queue_id;
  std::string reason;
};

struct ScanResult {
  std::vector<Message> messages;
  std::vector<ScanProblem> problems;
  absl::Time started;
  absl::Duration duration;
};

class QueueReader {
 public:
  // `fs` must outlive the reader. `threads` <= 0 means one per core.
  QueueReader(Filesystem* fs, PostfixConfig config, int threads = 0);

  const PostfixConfig& config() const { return config_; }

  // Reads every queue. Fails only if the queue directory itself cannot be
  // read.
  absl::StatusOr<ScanResult> ScanAll() const;

  // Reads one message, from `queue` when given, else from whichever queue
  // holds it now. NOT_FOUND if it is in none. `id` must already be valid.
  absl::StatusOr<Message> ReadMessage(absl::string_view id,
                                      std::optional<QueueKind> queue) const;

  // Streams the raw content of a message (see ReadContent in queue_file.h).
  absl::Status ReadMessageContent(
      absl::string_view id, QueueKind queue,
      const std::function<absl::Status(absl::string_view)>& sink) const;

  // Path of the file of `id` in `queue`, hashed as Postfix files it.
  std::string MessagePath(QueueKind queue, absl::string_view id) const;

 private:
  struct FileRef {
    QueueKind queue;
    std::string path;
    std::string id;
  };
  // Outcome of reading one file: a message, a problem, both, or neither (the
  // file moved or is not ready).
  struct FileOutcome {
    std::optional<Message> message;
    std::optional<ScanProblem> problem;
  };

  absl::Status ListQueue(QueueKind queue, std::vector<FileRef>& out) const;
  void ListTree(QueueKind queue, const std::string& dir, bool hashed,
                std::vector<FileRef>& out) const;
  FileOutcome ReadFile(QueueKind queue, const std::string& path,
                       const std::string& id) const;
  void AddDelayReasons(const std::string& id, Message& m,
                       std::vector<std::string>& seen) const;

  Filesystem* fs_;
  PostfixConfig config_;
  int threads_;
};

}  // namespace mailfleet::postfix

#endif  // MAILFLEET_AGENT_POSTFIX_QUEUE_READER_H_
