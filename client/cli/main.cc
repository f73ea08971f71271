// mailfleet: the operator's command line for the fleet's mail queues.
#include <grpc/support/log.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/cli/cli.h"

namespace {

void DiscardGrpcLog(gpr_log_func_args*) {}

}  // namespace

int main(int argc, char** argv) {
  // An error is one line on stderr, so gRPC's own log (e.g. on a malformed
  // target) stays quiet unless asked for with GRPC_VERBOSITY.
  if (std::getenv("GRPC_VERBOSITY") == nullptr) {
    gpr_set_log_function(DiscardGrpcLog);
  }
  // Output writes large blocks itself; iostreams need not mirror stdio.
  std::ios::sync_with_stdio(false);
  std::vector<std::string> args(argv + 1, argv + argc);
  mailfleet::cli::CliEnv env{&std::cout, &std::cerr, absl::Now(),
                             absl::LocalTimeZone()};
  // An action on a filter's selection asks at a terminal, and only there.
  env.in = &std::cin;
  env.interactive = isatty(STDIN_FILENO) == 1;
  return mailfleet::cli::RunCli(args, env);
}
