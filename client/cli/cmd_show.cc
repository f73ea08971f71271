// mailfleet show ID [--envelope-only]
#include "client/cli/commands.h"
#include "common/status_macros.h"

namespace mailfleet::cli {

absl::Status RunShow(CommandContext& context) {
  MF_ASSIGN_OR_RETURN(AgentClient * agent, context.Agent());
  const bool envelope_only = context.line().envelope_only;
  Output& out = context.out();
  out.BeginShow(!envelope_only);
  MF_RETURN_IF_ERROR(agent->GetMessage(
      context.line().args[0], envelope_only,
      [&out](const v1::Message& envelope) { out.ShowEnvelope(envelope); },
      [&out](absl::string_view chunk) { return out.ShowContent(chunk); }));
  return out.EndShow();
}

}  // namespace mailfleet::cli
