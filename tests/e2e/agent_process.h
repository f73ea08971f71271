// The shipped binaries as child processes, for end-to-end tests: the agent
// (killed when its AgentProcess goes away) and the CLI (run to the end).
// The including test target defines MAILFLEET_AGENT_BIN and
// MAILFLEET_CLI_BIN (see tests/e2e/CMakeLists.txt).
#ifndef MAILFLEET_TESTS_E2E_AGENT_PROCESS_H_
#define MAILFLEET_TESTS_E2E_AGENT_PROCESS_H_

#include <signal.h>
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

class AgentProcess {
 public:
  // `extra_args` go after --listen, --postfix-config-dir and --log-level.
  AgentProcess(const std::string& config_dir, int port,
               std::vector<std::string> extra_args = {})
      : address_(absl::StrCat("127.0.0.1:", port)) {
    std::vector<std::string> args = {MAILFLEET_AGENT_BIN, "--listen", address_,
                                     "--postfix-config-dir", config_dir,
                                     "--log-level", "warn"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      execv(MAILFLEET_AGENT_BIN, argv.data());
      _exit(127);
    }
  }
  ~AgentProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status;
      waitpid(pid_, &status, 0);
    }
  }
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
  const std::string& address() const { return address_; }

 private:
  std::string address_;
  pid_t pid_ = -1;
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
