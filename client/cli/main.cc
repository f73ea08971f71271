// mailfleet: the operator's command line for the fleet's mail queues.
#include <grpc/support/log.h>
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/agent_client.h"
#include "client/cli/cli.h"

namespace {

void DiscardGrpcLog(gpr_log_func_args*) {}

// SIGINT and SIGTERM are taken by a thread of their own rather than by a
// handler, which could not safely cancel a gRPC call. During a watch they
// cancel it, and mailfleet exits 0 once the stream is closed; at any other
// time, or at the second one, they end the program as they always did.
// Called before gRPC starts its threads, which inherit the blocked mask.
void HandleStopSignals(mailfleet::WatchControl* watch) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([watch, signals] {
    bool cancelled = false;
    while (true) {
      int signal = 0;
      if (sigwait(&signals, &signal) != 0) continue;
      if (!cancelled && watch->Cancel()) {
        cancelled = true;
        continue;
      }
      // The default action, on this thread, where the signal is unblocked.
      std::signal(signal, SIG_DFL);
      pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
      raise(signal);
    }
  }).detach();
}

}  // namespace

int main(int argc, char** argv) {
  // An error is one line on stderr, so gRPC's own log (e.g. on a malformed
  // target) stays quiet unless asked for with GRPC_VERBOSITY.
  if (std::getenv("GRPC_VERBOSITY") == nullptr) {
    gpr_set_log_function(DiscardGrpcLog);
  }
  // Never freed: the signal thread may use it until the process exits.
  auto* watch_control = new mailfleet::WatchControl();
  HandleStopSignals(watch_control);
  // Output writes large blocks itself; iostreams need not mirror stdio.
  std::ios::sync_with_stdio(false);
  std::vector<std::string> args(argv + 1, argv + argc);
  mailfleet::cli::CliEnv env{&std::cout, &std::cerr, absl::Now(),
                             absl::LocalTimeZone()};
  // An action on a filter's selection asks at a terminal, and only there.
  env.in = &std::cin;
  env.interactive = isatty(STDIN_FILENO) == 1;
  env.output_is_terminal = isatty(STDOUT_FILENO) == 1;
  env.watch_control = watch_control;
  if (const char* token = std::getenv("MAILFLEET_TOKEN")) env.token = token;
  return mailfleet::cli::RunCli(args, env);
}
