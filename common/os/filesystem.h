// The filesystem operations the agent needs, behind one interface (in the
// spirit of leveldb's Env) so that readers can be tested with a fake and
// faults can be injected.
#ifndef MAILFLEET_COMMON_OS_FILESYSTEM_H_
#define MAILFLEET_COMMON_OS_FILESYSTEM_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mailfleet {

struct FileInfo {
  enum class Type { kRegular, kDirectory, kSymlink, kOther };
  Type type = Type::kOther;
  mode_t mode = 0;  // permission bits only
  int64_t size = 0;
  absl::Time mtime;
  uint64_t nlink = 1;
};

struct DirEntry {
  std::string name;
  // From d_type; kOther when the filesystem does not say.
  FileInfo::Type type = FileInfo::Type::kOther;
  bool type_known = false;
};

// An open file read at offsets. Not thread-safe; one per reader.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Information about the open file (not the path, which may have moved).
  virtual absl::StatusOr<FileInfo> Stat() = 0;
  // Reads up to `n` bytes at `offset` into `buf`; fewer only at end of file.
  virtual absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n,
                                        char* buf) = 0;
};

// An open directory, for opening many files in it without looking its path
// up again each time (a scan opens two files per message). Thread-safe.
class Directory {
 public:
  virtual ~Directory() = default;
  // `name` is a plain file name, no slashes.
  virtual absl::StatusOr<std::unique_ptr<RandomAccessFile>> Open(
      absl::string_view name) = 0;
  virtual absl::Status ReadFile(absl::string_view name, size_t max_bytes,
                                std::string* out) = 0;
};

// Every method returns NOT_FOUND when the path does not exist (a message
// that moved on), and another error with the path and reason otherwise.
// Implementations are thread-safe. Nothing is ever locked, and reading does
// not change access times where the system allows that.
class Filesystem {
 public:
  virtual ~Filesystem() = default;
  // Does not follow a symlink. By default a Directory that joins paths and
  // calls Open/ReadFile.
  virtual absl::StatusOr<std::unique_ptr<Directory>> OpenDirectory(
      const std::string& path);
  virtual absl::StatusOr<std::vector<DirEntry>> ListDir(
      const std::string& path) = 0;
  // Opens without following a final symlink, and without any lock.
  virtual absl::StatusOr<std::unique_ptr<RandomAccessFile>> Open(
      const std::string& path) = 0;
  // Replaces `*out` with at most `max_bytes` of the file, reusing its
  // capacity (scans read a logfile per message). Never blocks: a FIFO
  // reads as empty or fails.
  virtual absl::Status ReadFile(const std::string& path, size_t max_bytes,
                                std::string* out) = 0;
  // lstat(2).
  virtual absl::StatusOr<FileInfo> Stat(const std::string& path) = 0;

  // The agent's only writes, for actions on MPA items.
  //
  // Moves `from` to `to` atomically, and never over an existing `to`:
  // ALREADY_EXISTS then, with nothing moved (a plain rename(2) would
  // silently drop the item already there). Atomic only within one
  // filesystem: across two, FAILED_PRECONDITION and nothing moved. NOT_FOUND
  // if `from`, or the directory of `to`, does not exist.
  virtual absl::Status Rename(const std::string& from,
                              const std::string& to) = 0;
  // A second name `to` for the file `from` (link(2)), never over an existing
  // `to` (ALREADY_EXISTS); NOT_FOUND if `from`, or the directory of `to`,
  // does not exist. For a move in which the file must be in both places for
  // a moment.
  virtual absl::Status Link(const std::string& from, const std::string& to) = 0;
  // Removes a file (a symlink itself, not its target). NOT_FOUND if it does
  // not exist; FAILED_PRECONDITION, with nothing removed, for a directory.
  virtual absl::Status Unlink(const std::string& path) = 0;
};

// The local filesystem.
class RealFilesystem : public Filesystem {
 public:
  absl::StatusOr<std::unique_ptr<Directory>> OpenDirectory(
      const std::string& path) override;
  absl::StatusOr<std::vector<DirEntry>> ListDir(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> Open(
      const std::string& path) override;
  absl::Status ReadFile(const std::string& path, size_t max_bytes,
                        std::string* out) override;
  absl::StatusOr<FileInfo> Stat(const std::string& path) override;
  // renameat2(2) with RENAME_NOREPLACE; FAILED_PRECONDITION on a filesystem
  // that does not support it (the check and the move must be one step).
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Link(const std::string& from, const std::string& to) override;
  absl::Status Unlink(const std::string& path) override;
};

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_OS_FILESYSTEM_H_
