// summary, ls and show through the controller.
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/cli/commands.h"
#include "client/cli/filter_flags.h"
#include "client/cli/gateway_selection.h"
#include "common/status_macros.h"

namespace mailfleet::cli {

absl::Status RunFleetSummary(CommandContext& context) {
  MF_ASSIGN_OR_RETURN(ControllerClient * controller, context.Controller());
  const CommandLine& line = context.line();
  v1::FleetSummaryRequest request;
  *request.mutable_selector() = GatewaySelectorOf(line);
  // Unset, not empty, when no filter flag was given: the controller then
  // answers from what it holds and asks no agent.
  if (line.filter.ByteSizeLong() > 0) *request.mutable_filter() = line.filter;
  request.set_top_n(line.top);
  SetDuration(line.timeout, request.mutable_timeout());
  MF_ASSIGN_OR_RETURN(v1::FleetSummaryResponse response,
                      controller->Summary(request));
  MF_RETURN_IF_ERROR(context.out().PrintFleetSummary(response));
  if (response.failures().empty()) return absl::OkStatus();
  // Listed with the summary; the exit status tells a script the total is
  // short.
  return absl::AbortedError(absl::StrCat(
      response.failures_size(), " of ", response.gateways_size(),
      " gateways left out of the total"));
}

absl::Status RunFleetList(CommandContext& context) {
  MF_ASSIGN_OR_RETURN(ControllerClient * controller, context.Controller());
  const CommandLine& line = context.line();
  v1::FleetListRequest request;
  *request.mutable_selector() = GatewaySelectorOf(line);
  *request.mutable_filter() = line.filter;
  SetDuration(line.timeout, request.mutable_timeout());
  Output& out = context.out();
  out.BeginMessageList(/*with_gateway=*/true);
  // A gateway that fails on one page is asked again on the next and may
  // fail again: it is reported once.
  std::set<std::string> failed;
  MF_RETURN_IF_ERROR(controller->ListAll(
      request, line.limit,
      [&out](const v1::Message& message) { return out.AddMessage(message); },
      [&](const v1::GatewayFailure& failure) {
        if (failed.insert(failure.gateway()).second) {
          context.Warn(GatewayFailureText(failure));
        }
      }));
  MF_RETURN_IF_ERROR(out.EndMessageList());
  if (failed.empty()) return absl::OkStatus();
  // A gateway that failed on one page and answered a later one is listed,
  // though out of order; one that kept failing is not: either way the
  // listing is not what the fleet holds.
  return absl::AbortedError(absl::StrCat(
      failed.size(), failed.size() == 1 ? " gateway" : " gateways",
      " failed to answer: the listing may lack ",
      failed.size() == 1 ? "its" : "their", " messages"));
}

absl::Status RunFleetShow(CommandContext& context) {
  MF_ASSIGN_OR_RETURN(ControllerClient * controller, context.Controller());
  const CommandLine& line = context.line();
  v1::FleetGetMessageRequest request;
  request.set_gateway(line.gateways[0]);
  request.mutable_request()->set_queue_id(line.args[0]);
  request.mutable_request()->set_envelope_only(line.envelope_only);
  if (line.filter.queues_size() == 1) {
    request.mutable_request()->set_queue(line.filter.queues(0));
  }
  Output& out = context.out();
  out.BeginShow(!line.envelope_only);
  MF_RETURN_IF_ERROR(controller->GetMessage(
      request,
      [&out](const v1::Message& envelope) { out.ShowEnvelope(envelope); },
      [&out](absl::string_view chunk) { return out.ShowContent(chunk); }));
  return out.EndShow();
}

}  // namespace mailfleet::cli
