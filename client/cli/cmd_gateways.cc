// mailfleet --controller ADDR gateways [-g NAME... | -l SELECTOR]
#include "client/cli/commands.h"
#include "client/cli/gateway_selection.h"
#include "common/status_macros.h"

namespace mailfleet::cli {

absl::Status CheckGateways(const CommandLine& line, bool /*can_ask*/) {
  if (line.controller.empty()) {
    return absl::InvalidArgumentError(
        "'gateways' lists a controller's gateways: it needs --controller ADDR");
  }
  return absl::OkStatus();
}

absl::Status RunGateways(CommandContext& context) {
  MF_ASSIGN_OR_RETURN(ControllerClient * controller, context.Controller());
  v1::ListGatewaysRequest request;
  *request.mutable_selector() = GatewaySelectorOf(context.line());
  MF_ASSIGN_OR_RETURN(v1::ListGatewaysResponse response,
                      controller->ListGateways(request));
  return context.out().PrintGateways(response);
}

}  // namespace mailfleet::cli
