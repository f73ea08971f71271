// mailfleet flush [ID...] | flush --site DOMAIN
#include "client/cli/commands.h"
#include "client/cli/gateway_selection.h"
#include "common/status_macros.h"

namespace mailfleet::cli {

absl::Status CheckFlush(const CommandLine& line, bool can_ask) {
  if (absl::Status chosen = CheckGatewaysChosen(line); !chosen.ok()) {
    return chosen;
  }
  if (!line.site.empty() && !line.args.empty()) {
    return absl::InvalidArgumentError(
        "flush takes queue ids or --site, not both");
  }
  return absl::OkStatus();
}

absl::Status RunFlush(CommandContext& context) {
  if (context.fleet()) return RunFleetFlush(context);
  const CommandLine& line = context.line();
  MF_ASSIGN_OR_RETURN(AgentClient * agent, context.Agent());
  v1::FlushRequest request;
  if (!line.site.empty()) {
    request.set_site(line.site);
  } else if (!line.args.empty()) {
    for (const std::string& id : line.args) request.add_queue_ids(id);
  } else {
    // Flushing moves mail along and loses none: no --all, no question.
    request.set_all(true);
  }
  MF_ASSIGN_OR_RETURN(v1::FlushResponse response, agent->Flush(request));
  return context.out().PrintFlushed(response);
}

}  // namespace mailfleet::cli
