#include "client/cli/cli.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cli/command_line.h"
#include "client/cli/commands.h"
#include "client/cli/filter_flags.h"
#include "client/cli/gateway_selection.h"
#include "client/cli/output.h"
#include "client/cli/usage.h"

namespace mailfleet::cli {
namespace {

// Multi-line messages (some gRPC errors carry several) become one line.
std::string OneLine(absl::string_view text) {
  std::string line(text);
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return line;
}

int Report(const CliEnv& env, int exit_code, absl::string_view message) {
  *env.err << "mailfleet: " << OneLine(message) << "\n";
  env.err->flush();
  return exit_code;
}

// Actions and flush wait longer for the agent than queries do.
bool IsAction(const Command& command) {
  return (command.flag_groups & (kActionFlags | kFlushFlags)) != 0;
}

// What the operator should read: the agent's (or controller's) own
// message, with where it came from when it was never reached.
std::string FailureMessage(const absl::Status& status, const Command& command,
                           const CommandLine& line) {
  const std::string message = status.message().empty()
                                  ? absl::StatusCodeToString(status.code())
                                  : std::string(status.message());
  const std::string target = line.controller.empty()
                                 ? absl::StrCat("agent at ", line.agent)
                                 : absl::StrCat("controller at ", line.controller);
  // The controller relays a gateway's own failure, naming the gateway.
  if (!line.controller.empty() && absl::StartsWith(message, "gateway ")) {
    return message;
  }
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      return absl::StrCat("cannot reach ", target, ": ", message);
    case absl::StatusCode::kUnauthenticated:
      return absl::StrCat("not authenticated by ", target, ": ", message);
    case absl::StatusCode::kPermissionDenied:
      return absl::StrCat("permission denied by ", target, ": ", message);
    case absl::StatusCode::kUnknown:
      // gRPC's own failures before any call (a malformed target) come as
      // UNKNOWN with a message that does not say where.
      return absl::StrCat(target, ": ", message);
    case absl::StatusCode::kDeadlineExceeded:
      return absl::StrCat(
          target, " did not answer within ",
          absl::FormatDuration(IsAction(command) ? line.action_timeout
                                                 : line.timeout),
          " (", message, ")",
          // The agent may still be running postsuper.
          IsAction(command) && !line.dry_run
              ? "; it may have acted on some messages: see mailfleet ls"
              : "");
    default:
      return message;
  }
}

// Everything that can be wrong with a command line before anything is
// sent; each is a usage error.
absl::Status CheckCommandLine(const CommandLine& line, const Command* command,
                              bool can_ask) {
  if (line.command.empty()) {
    return absl::InvalidArgumentError("no command given; see mailfleet --help");
  }
  if (command == nullptr) {
    std::vector<absl::string_view> names;
    for (const Command& c : AllCommands()) names.push_back(c.name);
    return absl::InvalidArgumentError(absl::StrCat("unknown command '",
                                                   line.command, "': expected ",
                                                   absl::StrJoin(names, ", ")));
  }
  for (const FlagSpec* flag : line.given) {
    if (flag->group != kGlobalFlags && !(command->flag_groups & flag->group)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "flag ", flag->name, " does not apply to '", command->name, "'"));
    }
  }
  const int args = static_cast<int>(line.args.size());
  if (args < command->min_args) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", command->name, "' needs ", command->args_usage,
                     ": mailfleet ", command->name, " ", command->args_usage));
  }
  if (args > command->max_args) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", line.args[command->max_args],
                     "' for '", command->name, "'"));
  }
  if (absl::Status status = CheckFilter(line.filter); !status.ok()) {
    return status;
  }
  if (command->check != nullptr) {
    if (absl::Status status = command->check(line, can_ask); !status.ok()) {
      return status;
    }
  }
  return CheckTarget(line);
}

}  // namespace

int RunCli(const std::vector<std::string>& args, const CliEnv& env) {
  absl::StatusOr<CommandLine> line = ParseCommandLine(args);
  if (!line.ok()) return Report(env, kExitUsage, line.status().message());
  const Command* command = FindCommand(line->command);
  if (line->help) {
    *env.out << UsageText(command);
    env.out->flush();
    return kExitOk;
  }
  if (absl::Status status =
          CheckCommandLine(*line, command, CommandContext::CanAsk(env));
      !status.ok()) {
    return Report(env, kExitUsage, status.message());
  }

  absl::Status status;
  {
    Output out(*env.out, line->format, DisplayContext{env.now, env.zone});
    CommandContext context(*line, out, env);
    status = command->run(context);
    // What was printed before a failure stays printed, ahead of the error.
    absl::Status flushed = out.Flush();
    if (status.ok()) status = flushed;
  }
  if (!status.ok()) {
    return Report(env, kExitFailure, FailureMessage(status, *command, *line));
  }
  return kExitOk;
}

int RunCli(const std::vector<std::string>& args, std::ostream& out,
           std::ostream& err) {
  return RunCli(args, CliEnv{&out, &err, absl::Now(), absl::LocalTimeZone()});
}

}  // namespace mailfleet::cli
