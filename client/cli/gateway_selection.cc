#include "client/cli/gateway_selection.h"

#include "absl/strings/str_cat.h"
#include "client/cli/terminal_text.h"

namespace mailfleet::cli {

bool HasGatewaySelection(const CommandLine& line) {
  return !line.gateways.empty() || !line.labels.empty() || line.all_gateways;
}

v1::GatewaySelector GatewaySelectorOf(const CommandLine& line) {
  v1::GatewaySelector selector;
  for (const std::string& name : line.gateways) selector.add_names(name);
  selector.set_label_selector(line.labels);
  selector.set_all(line.all_gateways);
  return selector;
}

absl::Status CheckTarget(const CommandLine& line) {
  if (!line.agent.empty() && !line.controller.empty()) {
    return absl::InvalidArgumentError(
        "give --agent or --controller, not both");
  }
  if (line.agent.empty() && line.controller.empty()) {
    return absl::InvalidArgumentError(
        "no agent given: --agent ADDR (or --controller ADDR)");
  }
  if (line.controller.empty() && HasGatewaySelection(line)) {
    return absl::InvalidArgumentError(
        "-g, -l and --all-gateways select a controller's gateways: they need "
        "--controller ADDR, not --agent");
  }
  const int kinds = (line.gateways.empty() ? 0 : 1) +
                    (line.labels.empty() ? 0 : 1) + (line.all_gateways ? 1 : 0);
  if (kinds > 1) {
    return absl::InvalidArgumentError(
        "select gateways one way: -g NAME (repeatable), -l SELECTOR or "
        "--all-gateways");
  }
  return absl::OkStatus();
}

absl::Status CheckGatewaysChosen(const CommandLine& line) {
  if (line.controller.empty() || HasGatewaySelection(line)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "'", line.command,
      "' through the controller needs gateways: -g NAME, -l SELECTOR or "
      "--all-gateways"));
}

std::string GatewayFailureText(const v1::GatewayFailure& failure) {
  std::string text = "gateway ";
  AppendSanitized(failure.gateway(), &text);
  if (!failure.address().empty()) {
    text.append(" (");
    AppendSanitized(failure.address(), &text);
    text.push_back(')');
  }
  text.append(": ");
  AppendSanitized(failure.error(), &text);
  return text;
}

}  // namespace mailfleet::cli
