// The shipped binaries as child processes, for end-to-end tests: the agent
// (killed when its AgentProcess goes away) and the CLI (run to the end);
// and how a test's own client reaches them (TLS files, credentials,
// token). The including test target defines MAILFLEET_AGENT_BIN and
// MAILFLEET_CLI_BIN (see tests/e2e/CMakeLists.txt).
#ifndef MAILFLEET_TESTS_E2E_AGENT_PROCESS_H_
#define MAILFLEET_TESTS_E2E_AGENT_PROCESS_H_

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/os/process_runner.h"
#include "mailfleet/v1/agent.grpc.pb.h"

namespace mailfleet::testing {

// The TLS files of one party of the fleet: its certificate and key, and the
// CA it verifies the other side with.
struct TlsFiles {
  std::string ca, cert, key;

  // The same flags on the agent, the controller and the CLI.
  std::vector<std::string> Flags() const {
    return {"--tls-cert", cert, "--tls-key", key, "--tls-ca", ca};
  }
};

// What deploy/make-fleet-certs.sh wrote to `dir`.
struct FleetCertFiles {
  std::string dir;

  std::string Ca() const { return dir + "/ca.pem"; }
  TlsFiles Controller() const { return Named("controller"); }
  TlsFiles Agent(const std::string& name) const {
    return Named("agent-" + name);
  }
  TlsFiles Operator(const std::string& name) const {
    return Named("operator-" + name);
  }

 private:
  TlsFiles Named(const std::string& base) const {
    return {Ca(), dir + "/" + base + ".pem", dir + "/" + base + ".key"};
  }
};

// The whole file; empty if it cannot be read (the handshake that needs it
// then fails, and says so).
inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Replaces the file with `text`.
inline absl::Status WriteWholeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// A client trusting `files.ca`, and presenting `files.cert` unless it is
// empty.
inline std::shared_ptr<grpc::ChannelCredentials> ClientTls(
    const TlsFiles& files) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadWholeFile(files.ca);
  if (!files.cert.empty()) {
    options.pem_cert_chain = ReadWholeFile(files.cert);
    options.pem_private_key = ReadWholeFile(files.key);
  }
  return grpc::SslCredentials(options);
}

// How a test's client calls a server: the channel's credentials (plaintext
// by default), and what each call carries: a bearer token, other metadata.
struct ClientIdentity {
  ClientIdentity() = default;
  explicit ClientIdentity(std::shared_ptr<grpc::ChannelCredentials> c,
                          std::string t = "")
      : credentials(std::move(c)), token(std::move(t)) {}

  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  std::string token;
  std::vector<std::pair<std::string, std::string>> metadata;

  std::shared_ptr<grpc::Channel> Channel(const std::string& address) const {
    return grpc::CreateChannel(address, credentials);
  }
  // Call once per context, before the call.
  void Prepare(grpc::ClientContext* ctx) const {
    if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
    for (const auto& [key, value] : metadata) ctx->AddMetadata(key, value);
  }
};

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

  // Sends `signal` and returns; false once the process is gone.
  bool Signal(int signal) { return running() && kill(pid_, signal) == 0; }
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
  // `extra_args` go after --listen, --postfix-config-dir and --log-level;
  // `client` is how WaitUntilServing calls it.
  AgentProcess(const std::string& config_dir, int port,
               std::vector<std::string> extra_args = {},
               ClientIdentity client = {})
      : address_(absl::StrCat("127.0.0.1:", port)),
        client_(std::move(client)),
        process_(Args(address_, config_dir, std::move(extra_args))) {}

  // Waits until the agent answers, as an operator's first command would.
  bool WaitUntilServing() {
    auto stub = v1::AgentService::NewStub(client_.Channel(address_));
    grpc::ClientContext ctx;
    client_.Prepare(&ctx);
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
  ClientIdentity client_;
  ChildProcess process_;
};

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

// `env`: "NAME=value" entries on top of the test's environment.
inline CliResult Cli(std::vector<std::string> args,
                     std::vector<std::string> env = {}) {
  args.insert(args.begin(), MAILFLEET_CLI_BIN);
  RealProcessRunner runner;
  ProcessOptions options;
  options.env = std::move(env);
  auto r = runner.Run(args, options);
  if (!r.ok()) return {};
  return {r->exit_code, r->stdout_text, r->stderr_text};
}

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_E2E_AGENT_PROCESS_H_
