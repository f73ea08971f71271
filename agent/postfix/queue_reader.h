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

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
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

// Receives what one scanning thread reads; every thread has a sink of its
// own, so sinks need no locking.
class ScanSink {
 public:
  virtual ~ScanSink() = default;
  // `message` is only valid during the call (the reader reuses it).
  virtual void OnMessage(const Message& message) = 0;
  virtual void OnProblem(ScanProblem problem) = 0;
};

struct ScanStats {
  absl::Time started;
  absl::Duration duration;
  size_t files = 0;
};

// How deep hash subdirectories are followed (Postfix allows a handful).
inline constexpr int kMaxHashLevels = 8;

// Whether `entry`, listed in the queue directory `dir` at hash depth
// `level`, is a hash subdirectory to enter: a one-character name that is a
// real directory (never a symlink, so that a planted one cannot send a
// walk around in loops or out of the spool). Maildrop is flat; the caller
// asks only for hashed queues.
bool IsHashSubdirectory(Filesystem& fs, const std::string& dir,
                        const DirEntry& entry, int level);

class QueueReader {
 public:
  // `fs` must outlive the reader. `threads` <= 0 means one per core.
  QueueReader(Filesystem* fs, PostfixConfig config, int threads = 0);

  const PostfixConfig& config() const { return config_; }

  // How many threads Scan uses.
  int threads() const { return threads_; }

  // Reads every queue, feeding thread i's results into sinks[i] (one thread
  // per sink). Fails only if the queue directory itself cannot be read.
  absl::StatusOr<ScanStats> Scan(const std::vector<ScanSink*>& sinks) const;

  // Scan into one list; for tools and tests.
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
    Directory* dir;  // owned by the scan
    std::string id;
  };
  // defer/ (sub)directories by hash path ("" or "A/" or "A/B/"); null
  // where there is none.
  using DeferDirs = absl::flat_hash_map<std::string, std::unique_ptr<Directory>>;
  // Per-thread buffers and handles, reused from file to file.
  struct Scratch {
    std::string defer_log;
    std::string address;
    absl::flat_hash_set<std::string> seen;
    // Opened once per scan and shared by its threads; when null, handles
    // are opened as needed into `own_defer_dirs`.
    const DeferDirs* defer_dirs = nullptr;
    DeferDirs own_defer_dirs;
  };

  using DirList = std::vector<std::unique_ptr<Directory>>;
  // Lists `path` and, when `hashed`, its one-character subdirectories down
  // to kMaxHashLevels. A missing directory is empty; any other error fails.
  absl::Status ListTree(QueueKind queue, const std::string& path, bool hashed,
                        int level, DirList& dirs, std::vector<FileRef>& out) const;
  absl::Status OpenDeferDirs(const std::string& path, const std::string& hash,
                             int level, DeferDirs& out) const;
  Directory* DeferDir(const std::string& hash, Scratch& scratch) const;
  // Reads queue file `id` of `dir` into `m`. True if it holds a message;
  // `problem` is set when the file could not be read in full. Neither
  // happens for a file that moved or is still being written.
  bool ReadQueueFile(QueueKind queue, Directory& dir, absl::string_view id,
                     Scratch& scratch, Message& m,
                     std::optional<ScanProblem>& problem) const;
  void AddDelayReasons(absl::string_view id, Scratch& scratch, Message& m) const;

  Filesystem* fs_;
  PostfixConfig config_;
  int threads_;
};

}  // namespace mailfleet::postfix

#endif  // MAILFLEET_AGENT_POSTFIX_QUEUE_READER_H_
