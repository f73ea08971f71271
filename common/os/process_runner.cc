#include "common/os/process_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

extern char** environ;

namespace mailfleet {
namespace {

absl::Status ErrnoError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

absl::StatusOr<ProcessResult> RealProcessRunner::Run(
    const std::vector<std::string>& argv, const ProcessOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  // Everything the child needs is built before fork: only async-signal-safe
  // calls happen between fork and exec.
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<std::string> env_storage;
  // The extra entries go first: getenv() takes the first match, so they
  // override the parent's.
  std::vector<char*> cenv;
  for (const auto& e : options.env) cenv.push_back(const_cast<char*>(e.c_str()));
  for (char** e = environ; *e; ++e) cenv.push_back(*e);
  cenv.push_back(nullptr);

  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return ErrnoError("pipe");
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return ErrnoError("pipe");
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(in[0]), close(in[1]), close(out[0]), close(out[1]);
    return ErrnoError("pipe");
  }
  pid_t pid = fork();
  if (pid < 0) {
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) close(fd);
    return ErrnoError("fork");
  }
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    // Children get default signal handling and no blocked signals, whatever
    // the parent set up (the agent blocks SIGTERM to take it in sigwait).
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execvpe(cargv[0], cargv.data(), cenv.data());
    const char msg[] = "exec failed\n";
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  int fds[3] = {in[1], out[0], err[0]};
  for (int fd : fds) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (options.stdin_text.empty()) CloseFd(fds[0]);

  ProcessResult result;
  size_t stdin_written = 0;
  const absl::Time deadline = absl::Now() + options.timeout;
  bool timed_out = false;
  char buf[65536];
  while (fds[1] >= 0 || fds[2] >= 0) {
    pollfd pfd[3];
    int n = 0;
    int which[3];
    if (fds[0] >= 0) pfd[n] = {fds[0], POLLOUT, 0}, which[n++] = 0;
    if (fds[1] >= 0) pfd[n] = {fds[1], POLLIN, 0}, which[n++] = 1;
    if (fds[2] >= 0) pfd[n] = {fds[2], POLLIN, 0}, which[n++] = 2;
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      timed_out = true;
      break;
    }
    int rc = poll(pfd, n, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (pfd[i].revents == 0) continue;
      int& fd = fds[which[i]];
      if (which[i] == 0) {
        ssize_t w = write(fd, options.stdin_text.data() + stdin_written,
                          options.stdin_text.size() - stdin_written);
        if (w > 0) stdin_written += w;
        if ((w < 0 && errno != EAGAIN) ||
            stdin_written == options.stdin_text.size()) {
          CloseFd(fd);
        }
        continue;
      }
      ssize_t r = read(fd, buf, sizeof(buf));
      if (r > 0) {
        (which[i] == 1 ? result.stdout_text : result.stderr_text).append(buf, r);
      } else if (r == 0 || errno != EAGAIN) {
        CloseFd(fd);
      }
    }
  }
  for (int& fd : fds) CloseFd(fd);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat("'", absl::StrJoin(argv, " "), "' did not finish within ",
                     absl::FormatDuration(options.timeout)));
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
    if (result.exit_code == 127 && result.stderr_text == "exec failed\n") {
      return absl::NotFoundError(
          absl::StrCat("cannot run '", argv[0], "': not found or not executable"));
    }
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
  }
  return result;
}

}  // namespace mailfleet
