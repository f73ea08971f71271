// flush through the controller: a row per gateway as each finishes.
#include "absl/strings/str_cat.h"
#include "client/cli/commands.h"
#include "client/cli/filter_flags.h"
#include "client/cli/gateway_selection.h"
#include "common/status_macros.h"

namespace mailfleet::cli {

absl::Status RunFleetFlush(CommandContext& context) {
  MF_ASSIGN_OR_RETURN(ControllerClient * controller, context.Controller());
  const CommandLine& line = context.line();
  v1::FleetFlushRequest request;
  *request.mutable_selector() = GatewaySelectorOf(line);
  SetDuration(line.action_timeout, request.mutable_timeout());
  v1::FlushRequest& flush = *request.mutable_request();
  if (!line.site.empty()) {
    flush.set_site(line.site);
  } else if (!line.args.empty()) {
    for (const std::string& id : line.args) flush.add_queue_ids(id);
  } else {
    flush.set_all(true);
  }
  Output& out = context.out();
  out.BeginGatewayResults();
  int gateways = 0;
  int failed = 0;
  MF_RETURN_IF_ERROR(
      controller->Flush(request, [&](const v1::GatewayFlushResult& result) {
        ++gateways;
        if (result.has_failure()) ++failed;
        return out.AddGatewayFlushResult(result);
      }));
  if (failed == 0) return absl::OkStatus();
  return absl::AbortedError(
      absl::StrCat("could not flush ", failed, " of ", gateways, " gateways"));
}

}  // namespace mailfleet::cli
