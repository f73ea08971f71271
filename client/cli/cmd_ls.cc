// mailfleet ls [filter flags] [--limit N]
#include "client/cli/commands.h"
#include "common/status_macros.h"

namespace mailfleet::cli {

absl::Status RunList(CommandContext& context) {
  if (context.fleet()) return RunFleetList(context);
  MF_ASSIGN_OR_RETURN(AgentClient * agent, context.Agent());
  Output& out = context.out();
  out.BeginMessageList();
  // Rows go out as pages arrive; nothing holds the whole listing.
  MF_RETURN_IF_ERROR(agent->ListAll(
      context.line().filter, context.line().limit,
      [&out](const v1::Message& message) { return out.AddMessage(message); }));
  return out.EndMessageList();
}

}  // namespace mailfleet::cli
