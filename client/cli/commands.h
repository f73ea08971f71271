// The commands of `mailfleet`, each a function of a CommandContext, and the
// table that names them. A command asks the context for its target (the
// agent, or the controller with --controller) and hands its results to
// Output; it never prints by itself, except for the one question a
// destructive action asks and the failed gateways it reports through the
// context.
#ifndef MAILFLEET_CLIENT_CLI_COMMANDS_H_
#define MAILFLEET_CLIENT_CLI_COMMANDS_H_

#include <cstdint>
#include <limits>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "client/agent_client.h"
#include "client/controller_client.h"
#include "client/cli/cli.h"
#include "client/cli/command_line.h"
#include "client/cli/output.h"

namespace mailfleet::cli {

class CommandContext {
 public:
  CommandContext(const CommandLine& line, Output& out, const CliEnv& env)
      : line_(line), out_(out), env_(env) {}

  const CommandLine& line() const { return line_; }
  Output& out() { return out_; }

  // The agent named by --agent, connected on first use.
  absl::StatusOr<AgentClient*> Agent();
  // The controller named by --controller, connected on first use.
  absl::StatusOr<ControllerClient*> Controller();
  // OK when the server named by --agent or --controller answers its gRPC
  // health check with SERVING.
  absl::Status CheckHealth();
  // Whether the command goes through the controller.
  bool fleet() const { return !line_.controller.empty(); }

  // Writes "mailfleet: <text>" on the error stream at once, while the
  // output goes on: a gateway that failed, among others that answered.
  void Warn(absl::string_view text);

  // Whether the output is a terminal, where `watch` redraws a screen.
  bool output_is_terminal() const { return env_.output_is_terminal; }
  // What cancels a watch from outside; null when nothing does.
  WatchControl* watch_control() const { return env_.watch_control; }

  // Whether there is an operator to ask: standard input is a terminal.
  bool CanAsk() const { return CanAsk(env_); }
  static bool CanAsk(const CliEnv& env) {
    return env.interactive && env.in != nullptr;
  }

  // Prints `question` on the error stream (after what is already on the
  // output) and reads one line: true for "y" or "yes" in any case, false
  // for anything else, end of input included.
  absl::StatusOr<bool> Ask(absl::string_view question);

 private:
  const CommandLine& line_;
  Output& out_;
  const CliEnv& env_;
  std::unique_ptr<AgentClient> agent_;
  std::unique_ptr<ControllerClient> controller_;
};

// Command::max_args for commands that take any number of arguments.
inline constexpr int kAnyNumber = std::numeric_limits<int>::max();

struct Command {
  absl::string_view name;
  absl::string_view args_usage;  // "ID", "[ID...]", or empty.
  absl::string_view help;        // One line in the list of commands.
  absl::string_view details;     // More for `COMMAND --help`, or empty.
  uint32_t flag_groups;          // FlagGroup bits besides kGlobalFlags.
  int min_args;
  int max_args;  // kAnyNumber: no limit.
  // What the tables cannot check (which arguments and flags go together,
  // whether the operator can be asked), before anything is sent. Its
  // errors are usage errors. Null when there is nothing more to check.
  absl::Status (*check)(const CommandLine& line, bool can_ask);
  absl::Status (*run)(CommandContext& context);
};

absl::Span<const Command> AllCommands();
const Command* FindCommand(absl::string_view name);

// One file each: cmd_gateways.cc, cmd_summary.cc, cmd_ls.cc, cmd_show.cc,
// cmd_act.cc (the postsuper actions and respool), cmd_flush.cc,
// cmd_watch.cc; what they do through the controller in fleet_*.cc.
absl::Status CheckGateways(const CommandLine& line, bool can_ask);
absl::Status RunGateways(CommandContext& context);
absl::Status RunHealth(CommandContext& context);
absl::Status RunSummary(CommandContext& context);
absl::Status RunList(CommandContext& context);
absl::Status RunShow(CommandContext& context);
absl::Status CheckShow(const CommandLine& line, bool can_ask);
absl::Status RunRespool(CommandContext& context);

absl::Status CheckAction(const CommandLine& line, bool can_ask);
absl::Status RunHold(CommandContext& context);
absl::Status RunRelease(CommandContext& context);
absl::Status RunRequeue(CommandContext& context);
absl::Status RunDelete(CommandContext& context);
absl::Status RunExpire(CommandContext& context);

absl::Status CheckFlush(const CommandLine& line, bool can_ask);
absl::Status RunFlush(CommandContext& context);

absl::Status CheckWatch(const CommandLine& line, bool can_ask);
absl::Status RunWatch(CommandContext& context);

absl::Status RunFleetSummary(CommandContext& context);
absl::Status RunFleetList(CommandContext& context);
absl::Status RunFleetShow(CommandContext& context);
absl::Status RunFleetAction(CommandContext& context, v1::Action action);
absl::Status RunFleetFlush(CommandContext& context);
absl::Status RunFleetWatch(CommandContext& context);

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_COMMANDS_H_
