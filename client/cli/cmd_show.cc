// mailfleet show ID [--envelope-only] [--queue Q] [-g GATEWAY]
#include "client/cli/commands.h"
#include "common/status_macros.h"

namespace mailfleet::cli {

absl::Status CheckShow(const CommandLine& line, bool /*can_ask*/) {
  if (line.filter.queues_size() > 1) {
    return absl::InvalidArgumentError(
        "show takes one --queue: the side (Postfix or MPA) to look on");
  }
  if (!line.controller.empty() &&
      (line.gateways.size() != 1 || !line.labels.empty() ||
       line.all_gateways)) {
    return absl::InvalidArgumentError(
        "through the controller, show needs the message's gateway: exactly "
        "one -g NAME");
  }
  return absl::OkStatus();
}

absl::Status RunShow(CommandContext& context) {
  if (context.fleet()) return RunFleetShow(context);
  MF_ASSIGN_OR_RETURN(AgentClient * agent, context.Agent());
  const CommandLine& line = context.line();
  v1::GetMessageRequest request;
  request.set_queue_id(line.args[0]);
  request.set_envelope_only(line.envelope_only);
  // Only needed when the id names both a Postfix message and an MPA item.
  if (line.filter.queues_size() == 1) request.set_queue(line.filter.queues(0));
  Output& out = context.out();
  out.BeginShow(!line.envelope_only);
  MF_RETURN_IF_ERROR(agent->GetMessage(
      request,
      [&out](const v1::Message& envelope) { out.ShowEnvelope(envelope); },
      [&out](absl::string_view chunk) { return out.ShowContent(chunk); }));
  return out.EndShow();
}

}  // namespace mailfleet::cli
