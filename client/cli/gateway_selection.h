// The gateway selection flags (-g, -l, --all-gateways) as the controller's
// GatewaySelector, the rules they follow on the command line, and a failed
// gateway in the words every fleet command uses for it.
#ifndef MAILFLEET_CLIENT_CLI_GATEWAY_SELECTION_H_
#define MAILFLEET_CLIENT_CLI_GATEWAY_SELECTION_H_

#include <string>

#include "absl/status/status.h"
#include "client/cli/command_line.h"
#include "mailfleet/v1/controller.pb.h"

namespace mailfleet::cli {

// Whether any of -g, -l, --all-gateways was given.
bool HasGatewaySelection(const CommandLine& line);

// What the flags select; empty (all, for queries) when none was given.
v1::GatewaySelector GatewaySelectorOf(const CommandLine& line);

// Usage errors: the target (--agent or --controller, exactly one), and
// selection flags only with --controller, one kind at a time.
absl::Status CheckTarget(const CommandLine& line);

// For actions and flush through the controller: a selection is required,
// so that a forgotten flag never means the whole fleet.
absl::Status CheckGatewaysChosen(const CommandLine& line);

// "gateway gw1 (10.0.0.1:7443): <error>", sanitized.
std::string GatewayFailureText(const v1::GatewayFailure& failure);

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_GATEWAY_SELECTION_H_
