#include "common/os/filesystem.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>  // renameat2, RENAME_NOREPLACE (glibc >= 2.28, _GNU_SOURCE)
#include <cstring>

#include "absl/strings/str_cat.h"

namespace mailfleet {
namespace {

absl::Status PathError(absl::string_view op, const std::string& path, int err) {
  std::string msg = absl::StrCat(op, " ", path, ": ", std::strerror(err));
  if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

FileInfo::Type TypeOf(mode_t mode) {
  if (S_ISREG(mode)) return FileInfo::Type::kRegular;
  if (S_ISDIR(mode)) return FileInfo::Type::kDirectory;
  if (S_ISLNK(mode)) return FileInfo::Type::kSymlink;
  return FileInfo::Type::kOther;
}

FileInfo InfoOf(const struct stat& st) {
  FileInfo info;
  info.type = TypeOf(st.st_mode);
  info.mode = st.st_mode & 07777;
  info.size = st.st_size;
  info.mtime = absl::TimeFromTimespec(st.st_mtim);
  info.nlink = st.st_nlink;
  return info;
}

// O_NOATIME keeps a scan from dirtying every inode it reads; the kernel
// refuses it for files of other owners unless we are root, so fall back.
// O_NONBLOCK: a FIFO planted in a queue directory must not hang a reader
// (it has no effect on regular files).
int OpenNoAtime(int dirfd, const char* path) {
  constexpr int kFlags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  int fd = openat(dirfd, path, kFlags | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = openat(dirfd, path, kFlags);
  return fd;
}

absl::Status ReadAll(int fd, const std::string& path, size_t max_bytes,
                     std::string* out) {
  // No fstat per logfile (a scan reads one per message): a FIFO opened
  // O_NONBLOCK reads as empty or EAGAIN, never blocks, and only root can
  // plant a device node.
  size_t chunk = 4096;
  while (out->size() < max_bytes) {
    size_t have = out->size();
    size_t want = std::min(chunk, max_bytes - have);
    out->resize(have + want);
    ssize_t r = read(fd, out->data() + have, want);
    if (r < 0) {
      out->resize(have);
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        return absl::FailedPreconditionError(absl::StrCat(path, " is not a regular file"));
      }
      return PathError("read", path, errno);
    }
    out->resize(have + r);
    // A short read of a regular file is its end: no extra read(2) for EOF.
    if (static_cast<size_t>(r) < want) break;
    chunk *= 2;
  }
  return absl::OkStatus();
}

class PosixFile : public RandomAccessFile {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { close(fd_); }

  absl::StatusOr<FileInfo> Stat() override {
    struct stat st;
    if (fstat(fd_, &st) != 0) return PathError("fstat", path_, errno);
    return InfoOf(st);
  }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n, char* buf) override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = pread(fd_, buf + done, n - done, offset + done);
      if (r < 0) {
        if (errno == EINTR) continue;
        return PathError("read", path_, errno);
      }
      if (r == 0) break;
      done += r;
    }
    return done;
  }

 private:
  int fd_;
  std::string path_;
};

class PosixDirectory : public Directory {
 public:
  PosixDirectory(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixDirectory() override { close(fd_); }

  absl::StatusOr<std::unique_ptr<RandomAccessFile>> Open(
      absl::string_view name) override {
    std::string n(name);
    int fd = OpenNoAtime(fd_, n.c_str());
    if (fd < 0) return PathError("open", absl::StrCat(path_, "/", n), errno);
    return std::unique_ptr<RandomAccessFile>(
        new PosixFile(fd, absl::StrCat(path_, "/", n)));
  }

  absl::Status ReadFile(absl::string_view name, size_t max_bytes,
                        std::string* out) override {
    out->clear();
    std::string n(name);
    int fd = OpenNoAtime(fd_, n.c_str());
    if (fd < 0) return PathError("open", absl::StrCat(path_, "/", n), errno);
    absl::Status s = ReadAll(fd, absl::StrCat(path_, "/", n), max_bytes, out);
    close(fd);
    return s;
  }

 private:
  int fd_;
  std::string path_;
};

// Joins paths; for filesystems without directory handles (test fakes).
class JoinedDirectory : public Directory {
 public:
  JoinedDirectory(Filesystem* fs, std::string path)
      : fs_(fs), path_(std::move(path)) {}
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> Open(
      absl::string_view name) override {
    return fs_->Open(absl::StrCat(path_, "/", name));
  }
  absl::Status ReadFile(absl::string_view name, size_t max_bytes,
                        std::string* out) override {
    return fs_->ReadFile(absl::StrCat(path_, "/", name), max_bytes, out);
  }

 private:
  Filesystem* fs_;
  std::string path_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Directory>> Filesystem::OpenDirectory(
    const std::string& path) {
  auto info = Stat(path);
  if (!info.ok()) return info.status();
  if (info->type != FileInfo::Type::kDirectory) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is not a directory"));
  }
  return std::unique_ptr<Directory>(new JoinedDirectory(this, path));
}

absl::StatusOr<std::unique_ptr<Directory>> RealFilesystem::OpenDirectory(
    const std::string& path) {
  // A symlink where a queue directory should be is not followed.
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return PathError("open", path, errno);
  return std::unique_ptr<Directory>(new PosixDirectory(fd, path));
}

absl::StatusOr<std::vector<DirEntry>> RealFilesystem::ListDir(
    const std::string& path) {
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return PathError("opendir", path, errno);
  std::vector<DirEntry> entries;
  errno = 0;
  while (struct dirent* d = readdir(dir)) {
    if (d->d_name[0] == '.' &&
        (d->d_name[1] == 0 || (d->d_name[1] == '.' && d->d_name[2] == 0))) {
      continue;
    }
    DirEntry e;
    e.name = d->d_name;
    e.type_known = d->d_type != DT_UNKNOWN;
    switch (d->d_type) {
      case DT_REG: e.type = FileInfo::Type::kRegular; break;
      case DT_DIR: e.type = FileInfo::Type::kDirectory; break;
      case DT_LNK: e.type = FileInfo::Type::kSymlink; break;
      default: e.type = FileInfo::Type::kOther; break;
    }
    entries.push_back(std::move(e));
  }
  int err = errno;
  closedir(dir);
  if (err != 0) return PathError("readdir", path, err);
  return entries;
}

absl::StatusOr<std::unique_ptr<RandomAccessFile>> RealFilesystem::Open(
    const std::string& path) {
  int fd = OpenNoAtime(AT_FDCWD, path.c_str());
  if (fd < 0) return PathError("open", path, errno);
  return std::unique_ptr<RandomAccessFile>(new PosixFile(fd, path));
}

absl::Status RealFilesystem::ReadFile(const std::string& path,
                                     size_t max_bytes, std::string* out) {
  out->clear();
  int fd = OpenNoAtime(AT_FDCWD, path.c_str());
  if (fd < 0) return PathError("open", path, errno);
  absl::Status s = ReadAll(fd, path, max_bytes, out);
  close(fd);
  return s;
}

absl::StatusOr<FileInfo> RealFilesystem::Stat(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return PathError("lstat", path, errno);
  return InfoOf(st);
}

absl::Status RealFilesystem::Rename(const std::string& from,
                                    const std::string& to) {
  if (renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(),
                RENAME_NOREPLACE) == 0) {
    return absl::OkStatus();
  }
  const int err = errno;
  const std::string paths = absl::StrCat(from, " -> ", to);
  switch (err) {
    case EEXIST:
      return absl::AlreadyExistsError(
          absl::StrCat("rename ", paths, ": ", to, " already exists"));
    case EXDEV:
      return absl::FailedPreconditionError(absl::StrCat(
          "rename ", paths,
          ": on different filesystems, where a move cannot be atomic"));
    case EINVAL:
    case ENOSYS:
      // EINVAL is also a directory moved into itself; say both.
      return absl::FailedPreconditionError(
          absl::StrCat("rename ", paths, ": ", std::strerror(err),
                       " (a directory into itself, or a filesystem without "
                       "RENAME_NOREPLACE)"));
    default:
      return PathError("rename", paths, err);
  }
}

absl::Status RealFilesystem::Link(const std::string& from, const std::string& to) {
  if (link(from.c_str(), to.c_str()) == 0) return absl::OkStatus();
  const int err = errno;
  const std::string paths = absl::StrCat(from, " -> ", to);
  if (err == EEXIST) {
    return absl::AlreadyExistsError(
        absl::StrCat("link ", paths, ": ", to, " already exists"));
  }
  if (err == EXDEV) {
    return absl::FailedPreconditionError(
        absl::StrCat("link ", paths, ": on different filesystems"));
  }
  return PathError("link", paths, err);
}

absl::Status RealFilesystem::Unlink(const std::string& path) {
  if (unlink(path.c_str()) == 0) return absl::OkStatus();
  // Linux refuses a directory with EISDIR (where POSIX allows EPERM), even
  // to root.
  if (errno == EISDIR) {
    return absl::FailedPreconditionError(
        absl::StrCat("unlink ", path, ": is a directory"));
  }
  return PathError("unlink", path, errno);
}

}  // namespace mailfleet
