// The `mailfleet` program as a function: arguments in, text on two streams
// and an exit status out, so that tests run it in-process against a fake
// agent. main.cc only adds the real streams and clock.
#ifndef MAILFLEET_CLIENT_CLI_CLI_H_
#define MAILFLEET_CLIENT_CLI_CLI_H_

#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace mailfleet {
class WatchControl;
}  // namespace mailfleet

namespace mailfleet::cli {

// Exit statuses: scripts tell a usage mistake from a failed operation.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // RPC failed, unknown id, ...
inline constexpr int kExitUsage = 2;    // Bad flag, bad value, no command.

struct CliEnv {
  std::ostream* out;
  std::ostream* err;
  // Ages are measured from `now`; times are shown in `zone`.
  absl::Time now;
  absl::TimeZone zone;
  // Where an action selected by a filter reads the operator's confirmation,
  // asked on `err`. Without a terminal (`interactive` false, or no `in`),
  // nobody is asked: such an action needs --yes.
  std::istream* in = nullptr;
  bool interactive = false;
  // `out` is a terminal: `watch` redraws a screen there instead of printing
  // a log.
  bool output_is_terminal = false;
  // Cancels a running `watch` from another thread (main's signal thread);
  // the command then ends with exit status 0. Null: only --events ends it.
  WatchControl* watch_control = nullptr;
  // $MAILFLEET_TOKEN: the bearer token when there is no --token-file.
  std::string token{};
};

// Runs one command line (`args` without the program name). Results go to
// `out`; an error goes to `err` as one line, "mailfleet: <message>".
int RunCli(const std::vector<std::string>& args, const CliEnv& env);

// With the real clock and the local time zone, and nobody to ask.
int RunCli(const std::vector<std::string>& args, std::ostream& out,
           std::ostream& err);

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_CLI_H_
