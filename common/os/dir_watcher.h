// Change notifications for the entries of a set of directories, behind a
// narrow interface so that the live index can be tested with a fake. The
// real implementation is Linux inotify.
//
// Events say only which name changed, never what it is now: the consumer
// looks again (and coalesces repeats). After kOverflow, or a kDirGone it
// did not expect, it has to rescan.
//
// Implementations are thread-safe, except that Wait is called from one
// thread at a time.
#ifndef MAILFLEET_COMMON_OS_DIR_WATCHER_H_
#define MAILFLEET_COMMON_OS_DIR_WATCHER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mailfleet {

struct DirEvent {
  enum class Kind {
    // An entry was created, written and closed, chmod/utime'd, or moved in.
    kChanged,
    // An entry was deleted or moved out (files and subdirectories alike).
    kRemoved,
    // A subdirectory was created or moved in.
    kDirCreated,
    // The watched directory itself was deleted, moved away or unmounted; its
    // watch is dropped. `name` is empty.
    kDirGone,
    // The kernel queue overflowed and events were lost. `dir` and `name` are
    // empty.
    kOverflow,
  };
  Kind kind = Kind::kChanged;
  std::string dir;   // the watched directory, exactly as passed to Watch()
  std::string name;  // the entry's name within it
};

class DirWatcher {
 public:
  virtual ~DirWatcher() = default;
  // Starts watching the entries of `dir` (not recursive). Watching a
  // directory again is a no-op. NOT_FOUND if it does not exist,
  // FAILED_PRECONDITION if it is not a directory (a symlink is never
  // followed), RESOURCE_EXHAUSTED when the system's watch limit is reached.
  virtual absl::Status Watch(const std::string& dir) = 0;
  // Stops watching `dir`; unknown directories are ignored. No kDirGone
  // follows.
  virtual void Unwatch(const std::string& dir) = 0;
  // Waits until events are available, `timeout` passes, or Wake() is
  // called, then appends every event available without blocking further to
  // `out`. An error only when the watcher itself is broken.
  virtual absl::Status Wait(absl::Duration timeout,
                            std::vector<DirEvent>* out) = 0;
  // Makes the Wait in progress (or the next one) return at once.
  virtual void Wake() = 0;
  // How many directories are watched.
  virtual size_t watched() const = 0;
};

// inotify plus an eventfd for Wake. Two paths naming the same directory
// share one kernel watch, so watching the second is ALREADY_EXISTS.
absl::StatusOr<std::unique_ptr<DirWatcher>> NewInotifyWatcher();

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_OS_DIR_WATCHER_H_
