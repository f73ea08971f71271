// An in-memory Filesystem for unit tests: files with contents, modes and
// mtimes, directories implied by paths, and injectable failures.
#ifndef MAILFLEET_TESTS_TESTING_FAKE_FILESYSTEM_H_
#define MAILFLEET_TESTS_TESTING_FAKE_FILESYSTEM_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/os/filesystem.h"

namespace mailfleet::testing {

class FakeFilesystem : public Filesystem {
 public:
  struct File {
    std::string data;
    mode_t mode = 0700;
    absl::Time mtime = absl::FromUnixSeconds(1700000000);
  };

  void AddFile(const std::string& path, std::string data, mode_t mode = 0700,
               absl::Time mtime = absl::FromUnixSeconds(1700000000));
  void AddDir(const std::string& path);
  void Remove(const std::string& path);
  // Open() of `path` fails with `status` from now on.
  void FailOpen(const std::string& path, absl::Status status);
  // Rename() from `from` fails with `status` from now on, moving nothing.
  void FailRename(const std::string& from, absl::Status status);
  // Unlink() of `path` fails with `status` from now on, removing nothing.
  void FailUnlink(const std::string& path, absl::Status status);
  // The writes done so far, in order: "rename <from> -> <to>", "unlink
  // <path>" (failed ones are not).
  std::vector<std::string> Writes();

  absl::StatusOr<std::vector<DirEntry>> ListDir(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> Open(
      const std::string& path) override;
  absl::Status ReadFile(const std::string& path, size_t max_bytes,
                        std::string* out) override;
  absl::StatusOr<FileInfo> Stat(const std::string& path) override;
  // As RealFilesystem's: never replaces `to`, needs its directory, and
  // moves a directory with everything under it.
  absl::Status Rename(const std::string& from, const std::string& to) override;
  // Fails like a Rename from `from` when FailRename names it.
  absl::Status Link(const std::string& from, const std::string& to) override;
  absl::Status Unlink(const std::string& path) override;

 private:
  bool ParentExists(const std::string& path) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // What Rename and Link refuse alike: an injected failure, no `from` (a
  // file, or also a directory), an existing `to`, or no directory for it.
  absl::Status CheckNewName(absl::string_view op, const std::string& from,
                            const std::string& to, bool from_may_be_dir) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<std::string, File> files_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> dirs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Status> open_failures_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Status> rename_failures_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Status> unlink_failures_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> writes_ ABSL_GUARDED_BY(mu_);
};

// A RandomAccessFile over bytes in memory.
class StringFile : public RandomAccessFile {
 public:
  explicit StringFile(std::string data, FileInfo info = {})
      : data_(std::move(data)), info_(info) {
    info_.type = FileInfo::Type::kRegular;
    info_.size = data_.size();
  }
  absl::StatusOr<FileInfo> Stat() override { return info_; }
  absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n, char* buf) override;

 private:
  std::string data_;
  FileInfo info_;
};

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_TESTING_FAKE_FILESYSTEM_H_
