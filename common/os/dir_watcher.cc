#include "common/os/dir_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace mailfleet {
namespace {

// No IN_MODIFY: Postfix writes a queue file in many small writes, and the
// consumer only cares once it is closed (IN_CLOSE_WRITE) or chmod'ed
// complete (IN_ATTRIB). IN_EXCL_UNLINK keeps a file that is unlinked while
// still open from reporting on a name that no longer exists.
constexpr uint32_t kWatchMask =
    IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE |
    IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW |
    IN_EXCL_UNLINK;

absl::Status ErrnoError(absl::string_view what, int err) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
}

absl::Status WatchError(const std::string& dir, int err) {
  std::string prefix = absl::StrCat("cannot watch ", dir, ": ");
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(absl::StrCat(prefix, std::strerror(err)));
    case ENOTDIR: {
      // Also the answer when a parent is not a directory: that one means
      // the path does not exist.
      struct stat st;
      if (lstat(dir.c_str(), &st) != 0) {
        return absl::NotFoundError(absl::StrCat(prefix, std::strerror(errno)));
      }
      return absl::FailedPreconditionError(absl::StrCat(
          prefix, S_ISLNK(st.st_mode) ? "a symlink (not followed)"
                                      : "not a directory"));
    }
    case ENOSPC:
      return absl::ResourceExhaustedError(absl::StrCat(
          prefix,
          "the limit of inotify watches is reached; raise the sysctl "
          "fs.inotify.max_user_watches"));
    case ENOMEM:
      return absl::ResourceExhaustedError(absl::StrCat(prefix, std::strerror(err)));
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(absl::StrCat(prefix, std::strerror(err)));
    default:
      return absl::InternalError(absl::StrCat(prefix, std::strerror(err)));
  }
}

// poll(2)'s timeout for `deadline`, rounded up so that a Wait does not wake
// up just short of its timeout and spin.
int PollTimeoutMs(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return -1;
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)));
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

class InotifyWatcher : public DirWatcher {
 public:
  InotifyWatcher(int inotify_fd, int wake_fd)
      : inotify_fd_(inotify_fd), wake_fd_(wake_fd) {}
  ~InotifyWatcher() override {
    close(inotify_fd_);
    close(wake_fd_);
  }

  absl::Status Watch(const std::string& dir) override {
    absl::MutexLock lock(&mu_);
    if (dir_to_wd_.contains(dir)) return absl::OkStatus();
    int wd = inotify_add_watch(inotify_fd_, dir.c_str(), kWatchMask);
    if (wd < 0) return WatchError(dir, errno);
    auto [it, inserted] = wd_to_dir_.try_emplace(wd, dir);
    if (!inserted) {
      // The kernel has one watch per inode: two names for one directory
      // cannot be told apart in its events, nor unwatched separately.
      return absl::AlreadyExistsError(absl::StrCat(
          "cannot watch ", dir, ": it is the directory already watched as ",
          it->second));
    }
    dir_to_wd_.emplace(dir, wd);
    return absl::OkStatus();
  }

  void Unwatch(const std::string& dir) override {
    absl::MutexLock lock(&mu_);
    auto it = dir_to_wd_.find(dir);
    if (it == dir_to_wd_.end()) return;
    // The IN_IGNORED this causes, and any event already queued for the
    // watch, find no mapping and are dropped.
    inotify_rm_watch(inotify_fd_, it->second);
    wd_to_dir_.erase(it->second);
    dir_to_wd_.erase(it);
  }

  absl::Status Wait(absl::Duration timeout,
                    std::vector<DirEvent>* out) override {
    const size_t before = out->size();
    const absl::Time deadline = timeout == absl::InfiniteDuration()
                                    ? absl::InfiniteFuture()
                                    : absl::Now() + timeout;
    for (;;) {
      pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      int rc = poll(fds, 2, PollTimeoutMs(deadline));
      if (rc < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("poll on inotify", errno);
      }
      if (rc == 0) return absl::OkStatus();
      if ((fds[0].revents | fds[1].revents) & (POLLERR | POLLNVAL)) {
        return absl::InternalError("inotify or wake descriptor failed");
      }
      bool woken = false;
      if (fds[1].revents & POLLIN) {
        uint64_t count;
        // Resets the counter: any number of Wakes end one Wait.
        if (read(wake_fd_, &count, sizeof(count)) < 0 && errno != EAGAIN) {
          return ErrnoError("read eventfd", errno);
        }
        woken = true;
      }
      if (fds[0].revents & POLLIN) {
        absl::MutexLock lock(&mu_);
        absl::Status s = ReadEvents(out);
        if (!s.ok()) return s;
      }
      // Readable but nothing to report (events on the directory itself, or
      // on a watch just removed) is not worth returning for.
      if (woken || out->size() > before) return absl::OkStatus();
    }
  }

  void Wake() override {
    uint64_t one = 1;
    // Fails only when the counter would overflow, and then a Wake is
    // pending anyway.
    (void)!write(wake_fd_, &one, sizeof(one));
  }

  size_t watched() const override {
    absl::MutexLock lock(&mu_);
    return dir_to_wd_.size();
  }

 private:
  // Drains the inotify descriptor.
  absl::Status ReadEvents(std::vector<DirEvent>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (;;) {
      ssize_t n = read(inotify_fd_, buffer_, sizeof(buffer_));
      if (n < 0) {
        if (errno == EAGAIN) return absl::OkStatus();
        if (errno == EINTR) continue;
        return ErrnoError("read inotify", errno);
      }
      if (n == 0) return absl::OkStatus();
      const char* p = buffer_;
      const char* end = buffer_ + n;
      while (p < end) {
        const auto* ev = reinterpret_cast<const inotify_event*>(p);
        p += sizeof(inotify_event) + ev->len;
        Decode(*ev, out);
      }
    }
  }

  void Decode(const inotify_event& ev, std::vector<DirEvent>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (ev.mask & IN_Q_OVERFLOW) {
      out->push_back({DirEvent::Kind::kOverflow, {}, {}});
      return;
    }
    auto it = wd_to_dir_.find(ev.wd);
    // Unknown: unwatched, or gone already (IN_IGNORED after DELETE_SELF).
    if (it == wd_to_dir_.end()) return;
    if (ev.mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
      // A directory moved away keeps its watch in the kernel; one deleted or
      // unmounted has lost it already.
      if (ev.mask & IN_MOVE_SELF) inotify_rm_watch(inotify_fd_, ev.wd);
      out->push_back({DirEvent::Kind::kDirGone, std::move(it->second), {}});
      dir_to_wd_.erase(out->back().dir);
      wd_to_dir_.erase(it);
      return;
    }
    // Without a name the event is about the directory itself (its own
    // chmod, say): nothing in it changed.
    if (ev.len == 0 || ev.name[0] == '\0') return;
    DirEvent::Kind kind;
    if (ev.mask & (IN_DELETE | IN_MOVED_FROM)) {
      kind = DirEvent::Kind::kRemoved;
    } else if ((ev.mask & IN_ISDIR) && (ev.mask & (IN_CREATE | IN_MOVED_TO))) {
      kind = DirEvent::Kind::kDirCreated;
    } else if (ev.mask & (IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB)) {
      kind = DirEvent::Kind::kChanged;
    } else {
      return;
    }
    out->push_back({kind, it->second, std::string(ev.name, strnlen(ev.name, ev.len))});
  }

  const int inotify_fd_;
  const int wake_fd_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<int, std::string> wd_to_dir_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> dir_to_wd_ ABSL_GUARDED_BY(mu_);
  // Large enough for hundreds of events per read(2) (each is 16 bytes plus
  // its name), and aligned as the kernel's records require.
  alignas(inotify_event) char buffer_[64 * 1024] ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<DirWatcher>> NewInotifyWatcher() {
  int inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd < 0) {
    if (errno == EMFILE) {
      return absl::ResourceExhaustedError(
          "inotify_init1: too many inotify instances or open files; raise the "
          "sysctl fs.inotify.max_user_instances or the open file limit");
    }
    return ErrnoError("inotify_init1", errno);
  }
  int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    int err = errno;
    close(inotify_fd);
    return ErrnoError("eventfd", err);
  }
  return std::unique_ptr<DirWatcher>(new InotifyWatcher(inotify_fd, wake_fd));
}

}  // namespace mailfleet
