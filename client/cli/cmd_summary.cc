// mailfleet summary [filter flags] [--top N]
#include "client/cli/commands.h"
#include "common/status_macros.h"

namespace mailfleet::cli {

absl::Status RunSummary(CommandContext& context) {
  if (context.fleet()) return RunFleetSummary(context);
  MF_ASSIGN_OR_RETURN(AgentClient * agent, context.Agent());
  v1::SummaryRequest request;
  // Unset, not empty, when no filter flag was given: "everything".
  if (context.line().filter.ByteSizeLong() > 0) {
    *request.mutable_filter() = context.line().filter;
  }
  request.set_top_n(context.line().top);
  MF_ASSIGN_OR_RETURN(v1::SummaryResponse response, agent->Summary(request));
  return context.out().PrintSummary(response);
}

}  // namespace mailfleet::cli
