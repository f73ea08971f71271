// The shipped binaries as child processes, for end-to-end tests: the agent
// (killed when its AgentProcess goes away) and the CLI (run to the end).
// The including test target defines MAILFLEET_AGENT_BIN and
// MAILFLEET_CLI_BIN (see tests/e2e/CMakeLists.txt).
#ifndef MAILFLEET_TESTS_E2E_AGENT_PROCESS_H_
#define MAILFLEET_TESTS_E2E_AGENT_PROCESS_H_

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/os/process_runner.h"
#include "mailfleet/v1/agent.grpc.pb.h"

namespace mailfleet::testing {

// A program started with `args` (args[0] is its path), stopped with SIGTERM
// and reaped when the ChildProcess goes away. Its output goes where the
// test's goes. Create it on the test's main thread: the child is also
// killed when the thread that started it ends, so that a test that dies
// without running destructors leaves no server behind.
class ChildProcess {
 public:
  explicit ChildProcess(std::vector<std::string> args) {
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      // The parent may have died before prctl took effect.
      if (getppid() != parent) _exit(127);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~ChildProcess() { Stop(SIGTERM); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Sends `signal` and waits for the process to end; does nothing once it
  // has. SIGKILL stands for a crash: nothing is flushed or closed cleanly.
  void Stop(int signal) {
    if (pid_ <= 0) return;
    kill(pid_, signal);
    int status;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  // Whether the process still runs: false once stopped here, or once it
  // has exited on its own (then it is reaped).
  bool running() {
    int status;
    if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) pid_ = -1;
    return pid_ > 0;
  }

 private:
  pid_t pid_ = -1;
};

class AgentProcess {
 public:
  // `extra_args` go after --listen, --postfix-config-dir and --log-level.
  AgentProcess(const std::string& config_dir, int port,
               std::vector<std::string> extra_args = {})
      : address_(absl::StrCat("127.0.0.1:", port)),
        process_(Args(address_, config_dir, std::move(extra_args))) {}

  // Waits until the agent answers, as an operator's first command would.
  bool WaitUntilServing() {
    auto stub = v1::AgentService::NewStub(
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::SummaryResponse resp;
    return stub->Summary(&ctx, {}, &resp).ok();
  }
  // Ends the agent at once, as a crash would.
  void Kill() { process_.Stop(SIGKILL); }
  bool running() { return process_.running(); }
  const std::string& address() const { return address_; }

 private:
  static std::vector<std::string> Args(const std::string& address,
                                       const std::string& config_dir,
                                       std::vector<std::string> extra_args) {
    std::vector<std::string> args = {MAILFLEET_AGENT_BIN, "--listen", address,
                                     "--postfix-config-dir", config_dir,
                                     "--log-level", "warn"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    return args;
  }

  std::string address_;
  ChildProcess process_;
};

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

inline CliResult Cli(std::vector<std::string> args) {
  args.insert(args.begin(), MAILFLEET_CLI_BIN);
  RealProcessRunner runner;
  auto r = runner.Run(args, {});
  if (!r.ok()) return {};
  return {r->exit_code, r->stdout_text, r->stderr_text};
}

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_E2E_AGENT_PROCESS_H_
