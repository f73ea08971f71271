#include "tests/e2e/support/postfix_instance.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/fmt_absl.h"
#include "common/status_macros.h"
#include "tests/e2e/support/instance_processes.h"
#include "tests/e2e/support/loopback_ports.h"

namespace mailfleet::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kTmpDir[] = "/tmp";
constexpr char kDefaultRootPrefix[] = "mailfleet-postfix-";
// Debian's "No configuration" install has no /etc/postfix/master.cf; the
// stock copy is always in /usr/share/postfix.
constexpr const char* kMasterCfTemplates[] = {
    "/usr/share/postfix/master.cf.dist", "/etc/postfix/master.cf.proto"};
constexpr const char* kConfigFlagCommands[] = {
    "postfix",  "postqueue", "postsuper", "postcat",
    "postconf", "postmap",   "postalias", "postlog"};
// `postfix start` runs postsuper over the whole queue first (check-fatal).
constexpr absl::Duration kStartTimeout = absl::Minutes(5);
// showq reads every queue file; 100,000 messages take a while.
constexpr absl::Duration kPostqueueTimeout = absl::Minutes(5);
constexpr absl::Duration kStopGrace = absl::Seconds(10);

std::string ErrnoText() { return std::strerror(errno); }

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

// Write-then-rename, so that concurrent readers (another process sweeping
// abandoned instances) never see half a state file.
absl::Status WriteFile(const std::string& path, const std::string& content) {
  std::string tmp = absl::StrCat(path, ".tmp");
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat(tmp, ": ", ErrnoText()));
  bool ok = write(fd, content.data(), content.size()) ==
            static_cast<ssize_t>(content.size());
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("writing ", path, ": ", ErrnoText()));
  }
  return absl::OkStatus();
}

// Postfix re-reads main.cf and file-based tables modified within the last
// second, pausing 300 ms each time, until they look settled: a freshly
// written config costs every Postfix command two seconds. Ours are complete
// when written, so they are dated a minute back.
absl::Status Backdate(const std::string& path) {
  timespec times[2];
  clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= 60;
  times[1] = times[0];
  if (utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) {
    return absl::InternalError(
        absl::StrCat("utimensat ", path, ": ", ErrnoText()));
  }
  return absl::OkStatus();
}

std::string Basename(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// PATH first, then /usr/sbin: root's PATH in CI containers may lack it.
std::string ResolveCommand(const std::string& name) {
  if (absl::StrContains(name, '/')) return name;
  const char* env_path = getenv("PATH");
  std::vector<std::string> dirs =
      absl::StrSplit(env_path ? env_path : "", ':', absl::SkipEmpty());
  dirs.push_back("/usr/sbin");
  for (const std::string& dir : dirs) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Returns the stock master.cf to start from.
absl::StatusOr<std::string> CheckPrerequisites() {
  if (ResolveCommand("postfix").empty() || ResolveCommand("postconf").empty()) {
    return absl::FailedPreconditionError(
        "Postfix is not installed (no postfix command in PATH or /usr/sbin); "
        "run `make deps`, which installs it");
  }
  if (geteuid() != 0) {
    return absl::FailedPreconditionError(
        "a private Postfix instance can only be started as root (postfix(1) "
        "refuses other users); run the end-to-end tests as root");
  }
  for (const char* path : kMasterCfTemplates) {
    if (access(path, R_OK) == 0) return std::string(path);
  }
  return absl::FailedPreconditionError(
      absl::StrCat("no stock master.cf (looked for ",
                   absl::StrJoin(kMasterCfTemplates, ", "),
                   "); reinstall Postfix with `make deps`"));
}

// The root goes into main.cf and master.cf verbatim, where blanks, '$', ','
// or '=' would change the meaning.
absl::Status ValidateRoot(const std::string& root) {
  for (char c : root) {
    if (!absl::ascii_isalnum(c) && !absl::StrContains("/._+-", c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "instance root '", root, "' may contain only [A-Za-z0-9/._+-]"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> MakeRoot(const std::string& requested) {
  std::string root;
  if (requested.empty()) {
    std::string tmpl = absl::StrCat(kTmpDir, "/", kDefaultRootPrefix, "XXXXXX");
    if (mkdtemp(tmpl.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("mkdtemp: ", ErrnoText()));
    }
    root = tmpl;
  } else {
    std::error_code ec;
    fs::create_directories(requested, ec);
    if (ec || !fs::is_empty(requested, ec)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "instance root ", requested, " must be a new or empty directory"));
    }
    char* real = realpath(requested.c_str(), nullptr);
    if (real == nullptr) {
      return absl::InternalError(absl::StrCat(requested, ": ", ErrnoText()));
    }
    root = real;
    free(real);
  }
  MF_RETURN_IF_ERROR(ValidateRoot(root));
  // Postfix daemons run as the postfix user and must reach their files.
  if (chmod(root.c_str(), 0755) != 0) {
    return absl::InternalError(absl::StrCat("chmod ", root, ": ", ErrnoText()));
  }
  return root;
}

// The pid alone could have been reused by now.
bool CreatorAlive(const InstanceState& state) {
  uint64_t start = ProcessStartTime(state.creator_pid);
  return start != 0 &&
         (state.creator_start_time == 0 || start == state.creator_start_time);
}

// Test processes killed by a crash or a ctest timeout never run their
// destructors; their instances are found through the state file.
void SweepAbandonedInstances() {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(kTmpDir, ec)) {
    std::string root = entry.path().string();
    if (!absl::StartsWith(Basename(root), kDefaultRootPrefix)) continue;
    absl::StatusOr<std::string> text = ReadFile(InstancePaths(root).state_file);
    if (!text.ok()) continue;
    absl::StatusOr<InstanceState> state = ParseState(*text);
    if (!state.ok() || state->detached || CreatorAlive(*state)) continue;
    spdlog::warn("removing Postfix instance {} abandoned by process {}", root,
                 state->creator_pid);
    absl::StatusOr<std::unique_ptr<PostfixInstance>> abandoned =
        PostfixInstance::Attach(root);
    if (abandoned.ok()) (void)(*abandoned)->Destroy();
  }
}

// The queues a message passes through before it is deferred.
constexpr const char* kUnsettledQueues[] = {"maildrop", "incoming", "active"};

// Counts regular files below `dir`, stopping at `limit`. Files vanish and
// appear while we look; errors just end the walk early.
int CountQueueFiles(const std::string& dir, int limit) {
  int count = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end;
       !ec && it != end && count < limit; it.increment(ec)) {
    if (it->is_regular_file(ec)) ++count;
  }
  return count;
}

}  // namespace

PostfixInstance::PostfixInstance(const std::string& root, int smtp_port,
                                 bool owned)
    : paths_(root), smtp_port_(smtp_port), owned_(owned) {}

PostfixInstance::~PostfixInstance() {
  if (!owned_ || destroyed_) return;
  if (absl::Status s = Destroy(); !s.ok()) {
    spdlog::error("cleaning up Postfix instance {}: {}", paths_.root, s);
  }
}

absl::StatusOr<std::unique_ptr<PostfixInstance>> PostfixInstance::Create(
    const PostfixInstanceOptions& options) {
  MF_ASSIGN_OR_RETURN(const std::string master_cf_template,
                      CheckPrerequisites());
  if (options.root.empty()) SweepAbandonedInstances();
  MF_ASSIGN_OR_RETURN(const std::string root, MakeRoot(options.root));
  std::unique_ptr<PostfixInstance> instance(
      new PostfixInstance(root, options.smtp_port, /*owned=*/true));
  // The state file comes first: without it Destroy() would not remove root.
  MF_RETURN_IF_ERROR(instance->WriteState(/*detached=*/false));

  InstanceSettings settings;
  settings.long_queue_ids = options.long_queue_ids;
  MF_ASSIGN_OR_RETURN(settings.closed_ports, FindClosedLoopbackPorts(3));
  for (int attempt = 1;; ++attempt) {
    settings.smtp_port = options.smtp_port;
    if (settings.smtp_port == 0) {
      MF_ASSIGN_OR_RETURN(settings.smtp_port, PickFreeLoopbackPort());
    }
    instance->smtp_port_ = settings.smtp_port;
    MF_RETURN_IF_ERROR(instance->WriteState(/*detached=*/false));
    MF_RETURN_IF_ERROR(instance->WriteConfig(settings, master_cf_template));
    if (!options.start) break;
    absl::Status started = instance->StartMaster();
    if (started.ok()) break;
    // Someone else may have bound the picked port before the master did.
    bool port_taken =
        absl::StrContains(started.message(), "Address already in use");
    if (options.smtp_port != 0 || !port_taken || attempt == 3) return started;
  }
  spdlog::info("Postfix test instance {}: smtpd on 127.0.0.1:{}{}", root,
               instance->smtp_port_, options.start ? "" : " (not started)");
  return instance;
}

absl::StatusOr<std::unique_ptr<PostfixInstance>> PostfixInstance::Attach(
    const std::string& root) {
  char* real = realpath(root.c_str(), nullptr);
  if (real == nullptr) {
    return absl::NotFoundError(absl::StrCat(root, ": ", ErrnoText()));
  }
  std::string real_root = real;
  free(real);
  InstancePaths paths(real_root);
  absl::StatusOr<std::string> text = ReadFile(paths.state_file);
  if (!text.ok()) {
    return absl::NotFoundError(
        absl::StrCat(real_root, " is not a Postfix test instance (no ",
                     paths.state_file, ")"));
  }
  MF_ASSIGN_OR_RETURN(InstanceState state, ParseState(*text));
  return std::unique_ptr<PostfixInstance>(
      new PostfixInstance(real_root, state.smtp_port, /*owned=*/false));
}

absl::Status PostfixInstance::WriteState(bool detached) const {
  InstanceState state;
  state.smtp_port = smtp_port_;
  state.creator_pid = getpid();
  state.creator_start_time = ProcessStartTime(state.creator_pid);
  state.detached = detached;
  return WriteFile(paths_.state_file, FormatState(state));
}

absl::Status PostfixInstance::WriteConfig(
    const InstanceSettings& settings,
    const std::string& master_cf_template) const {
  // The queue directory must exist before postfix(1) runs; post-install
  // creates everything below it, and the data directory.
  for (const std::string& dir : {paths_.config_dir, paths_.queue_dir}) {
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::InternalError(
          absl::StrCat("mkdir ", dir, ": ", ErrnoText()));
    }
  }
  MF_RETURN_IF_ERROR(
      WriteFile(paths_.config_dir + "/main.cf", MainCf(paths_, settings)));
  MF_RETURN_IF_ERROR(WriteFile(paths_.transport_file, TransportMap(settings)));
  MF_ASSIGN_OR_RETURN(std::string master_cf, ReadFile(master_cf_template));
  MF_RETURN_IF_ERROR(WriteFile(paths_.config_dir + "/master.cf", master_cf));
  for (const std::string& file :
       {paths_.config_dir + "/main.cf", paths_.transport_file}) {
    MF_RETURN_IF_ERROR(Backdate(file));
  }
  for (std::vector<std::string>& edit : MasterCfEdits(settings)) {
    edit.insert(edit.begin(), "postconf");
    MF_ASSIGN_OR_RETURN(ProcessResult r, RunTool(edit));
    if (r.exit_code != 0) {
      return absl::InternalError(
          absl::StrCat(absl::StrJoin(edit, " "), " failed: ", r.stderr_text));
    }
  }
  return Backdate(paths_.config_dir + "/master.cf");
}

absl::StatusOr<ProcessResult> PostfixInstance::RunTool(
    std::vector<std::string> argv, ProcessOptions options) const {
  if (argv.empty()) return absl::InvalidArgumentError("RunTool: empty argv");
  const std::string name = Basename(argv[0]);
  std::string path = ResolveCommand(argv[0]);
  if (path.empty()) {
    return absl::NotFoundError(
        absl::StrCat("command '", argv[0], "' not found"));
  }
  argv[0] = path;
  for (const char* command : kConfigFlagCommands) {
    if (name == command) {
      argv.insert(argv.begin() + 1, {"-c", paths_.config_dir});
      break;
    }
  }
  options.env.push_back(absl::StrCat("MAIL_CONFIG=", paths_.config_dir));
  return runner_.Run(argv, options);
}

absl::StatusOr<std::string> PostfixInstance::PostqueueJson() const {
  ProcessOptions options;
  options.timeout = kPostqueueTimeout;
  MF_ASSIGN_OR_RETURN(ProcessResult r, RunTool({"postqueue", "-j"}, options));
  if (r.exit_code != 0) {
    return absl::UnavailableError(absl::StrCat(
        "postqueue -j exited with ", r.exit_code, ": ", r.stderr_text));
  }
  return std::move(r.stdout_text);
}

absl::Status PostfixInstance::WaitForQueueToSettle(
    absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  // Looking stops at the first file: with 100,000 messages in incoming,
  // counting them all on every poll would cost more CPU than Postfix.
  auto settled = [this] {
    for (const char* queue : kUnsettledQueues) {
      if (CountQueueFiles(absl::StrCat(paths_.queue_dir, "/", queue), 1) > 0) {
        return false;
      }
    }
    return true;
  };
  // Two empty looks in a row: one walk of three directories is not atomic.
  for (int empty_looks = 0; empty_looks < 2;) {
    empty_looks = settled() ? empty_looks + 1 : 0;
    if (empty_looks == 0 && absl::Now() >= deadline) {
      std::vector<std::string> counts;
      for (const char* queue : kUnsettledQueues) {
        counts.push_back(absl::StrCat(
            CountQueueFiles(absl::StrCat(paths_.queue_dir, "/", queue),
                            std::numeric_limits<int>::max()),
            " in ", queue));
      }
      return absl::DeadlineExceededError(absl::StrCat(
          "queue of ", paths_.root, " not settled after ",
          absl::FormatDuration(timeout), ": ", absl::StrJoin(counts, ", "),
          MasterRunning() ? "" : " (the master is not running)"));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::OkStatus();
}

bool PostfixInstance::MasterRunning() const {
  for (const InstanceProcess& p : FindInstanceProcesses(paths_.config_dir)) {
    if (p.name == "master") return true;
  }
  return false;
}

absl::Status PostfixInstance::StartMaster() {
  if (MasterRunning()) return absl::OkStatus();
  // After the first start, postfix-script's integrity checks (post-install,
  // postsuper over the whole queue, finds over the system's Postfix files)
  // only cost time: quick-start, as `postfix quick-stop` leaves it, skips them.
  std::error_code ec;
  if (fs::is_directory(paths_.queue_dir + "/pid", ec)) {
    MF_RETURN_IF_ERROR(WriteFile(paths_.queue_dir + "/quick-start", ""));
  }
  ProcessOptions options;
  options.timeout = kStartTimeout;
  MF_ASSIGN_OR_RETURN(ProcessResult r, RunTool({"postfix", "start"}, options));
  if (r.exit_code != 0) {
    // postfix(1) reports to stderr only on a terminal; the log has the cause.
    return absl::FailedPreconditionError(
        absl::StrCat("postfix -c ", paths_.config_dir, " start failed (exit ",
                     r.exit_code, ")", r.stderr_text.empty() ? "" : ": ",
                     absl::StripTrailingAsciiWhitespace(r.stderr_text),
                     "; the maillog ends with:\n", MaillogTail(8)));
  }
  return absl::OkStatus();
}

absl::Status PostfixInstance::StopMaster() {
  // What `postfix stop` does, without its one-second polling: SIGTERM to
  // the master, which passes it on to its process group and exits. (The
  // children die as orphans; init reaps them.)
  for (const InstanceProcess& p : FindInstanceProcesses(paths_.config_dir)) {
    if (p.name == "master") kill(p.pid, SIGTERM);
  }
  if (WaitForInstanceProcessesToExit(paths_.config_dir, kStopGrace)) {
    return absl::OkStatus();
  }
  SignalInstanceProcesses(paths_.config_dir, SIGKILL);
  if (WaitForInstanceProcessesToExit(paths_.config_dir, absl::Seconds(5))) {
    spdlog::warn("Postfix instance {}: killed processes that outlived stop",
                 paths_.root);
    return absl::OkStatus();
  }
  std::vector<std::string> left;
  for (const InstanceProcess& p : FindInstanceProcesses(paths_.config_dir)) {
    left.push_back(absl::StrCat(p.name, "[", p.pid, "]"));
  }
  return absl::InternalError(
      absl::StrCat("processes of Postfix instance ", paths_.root,
                   " survived SIGKILL: ", absl::StrJoin(left, ", ")));
}

absl::Status PostfixInstance::Detach() {
  MF_RETURN_IF_ERROR(WriteState(/*detached=*/true));
  owned_ = false;
  return absl::OkStatus();
}

absl::Status PostfixInstance::Destroy() {
  if (destroyed_) return absl::OkStatus();
  absl::Status stopped = StopMaster();
  std::error_code ec;
  if (!fs::exists(paths_.state_file, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to remove ", paths_.root, ": no ", paths_.state_file,
        ", so PostfixInstance did not create it"));
  }
  fs::remove_all(paths_.root, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("removing ", paths_.root, ": ", ec.message()));
  }
  destroyed_ = true;
  owned_ = false;
  return stopped;
}

std::string PostfixInstance::MaillogTail(int lines) const {
  absl::StatusOr<std::string> text = ReadFile(paths_.maillog_file);
  if (!text.ok()) return "(no maillog)";
  std::vector<absl::string_view> all =
      absl::StrSplit(*text, '\n', absl::SkipEmpty());
  size_t first =
      all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0;
  return absl::StrJoin(all.begin() + first, all.end(), "\n");
}

}  // namespace mailfleet::testing
