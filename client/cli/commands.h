// The commands of `mailfleet`, each a function of a CommandContext, and the
// table that names them. A command asks the context for its target (the
// agent now; a controller later) and hands its results to Output; it never
// prints by itself.
#ifndef MAILFLEET_CLIENT_CLI_COMMANDS_H_
#define MAILFLEET_CLIENT_CLI_COMMANDS_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "client/agent_client.h"
#include "client/cli/command_line.h"
#include "client/cli/output.h"

namespace mailfleet::cli {

class CommandContext {
 public:
  CommandContext(const CommandLine& line, Output& out)
      : line_(line), out_(out) {}

  const CommandLine& line() const { return line_; }
  Output& out() { return out_; }

  // The agent named by --agent, connected on first use.
  absl::StatusOr<AgentClient*> Agent();

 private:
  const CommandLine& line_;
  Output& out_;
  std::unique_ptr<AgentClient> agent_;
};

struct Command {
  absl::string_view name;
  absl::string_view args_usage;  // "ID", or empty.
  absl::string_view help;
  uint32_t flag_groups;  // FlagGroup bits besides kGlobalFlags.
  int min_args;
  int max_args;
  absl::Status (*run)(CommandContext& context);
};

absl::Span<const Command> AllCommands();
const Command* FindCommand(absl::string_view name);

// One file each: cmd_summary.cc, cmd_ls.cc, cmd_show.cc.
absl::Status RunSummary(CommandContext& context);
absl::Status RunList(CommandContext& context);
absl::Status RunShow(CommandContext& context);

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_COMMANDS_H_
