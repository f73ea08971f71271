// mailfleet hold|release|requeue|delete|expire|respool [ID...]
//     [filter flags] [--all] [--dry-run] [--yes]
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/cli/act_batches.h"
#include "client/cli/action_text.h"
#include "client/cli/gateway_selection.h"
#include "client/cli/commands.h"
#include "common/status_macros.h"

namespace mailfleet::cli {
namespace {

bool HasFilter(const CommandLine& line) {
  return line.filter.ByteSizeLong() > 0;
}

// Whether the filter flags name queues and nothing else: with ids, where
// to look for them.
bool HasQueuesOnly(const CommandLine& line) {
  v1::Filter rest = line.filter;
  rest.clear_queues();
  return line.filter.queues_size() > 0 && rest.ByteSizeLong() == 0;
}

// Prints the result; a real run in which any message failed is a failure
// of the command (exit status 1), after the summary.
absl::Status PrintResult(CommandContext& context,
                         const v1::ActResponse& response) {
  MF_RETURN_IF_ERROR(context.out().PrintActResponse(response));
  if (response.dry_run()) return absl::OkStatus();
  const int64_t failed =
      std::max<int64_t>(response.failed(), response.failures_size());
  if (failed == 0) return absl::OkStatus();
  return absl::AbortedError(
      absl::StrCat("could not ", ActionVerb(response.action()), " ", failed,
                   " of ", MessageCount(std::max(response.matched(), failed))));
}

absl::Status ActOnIdsAndPrint(CommandContext& context, AgentClient& agent,
                              v1::Action action,
                              const std::vector<IdGroup>& groups,
                              bool dry_run) {
  v1::ActResponse sum;
  bool answered = false;
  absl::Status status = ActOnGroups(
      [&agent](const v1::ActRequest& request) { return agent.Act(request); },
      action, groups, dry_run, &sum, &answered);
  // What was done before a failed batch is shown ahead of the error.
  if (!answered) return status;
  absl::Status printed = PrintResult(context, sum);
  return status.ok() ? printed : status;
}

absl::Status RunAction(CommandContext& context, v1::Action action) {
  if (context.fleet()) return RunFleetAction(context, action);
  const CommandLine& line = context.line();
  MF_ASSIGN_OR_RETURN(AgentClient * agent, context.Agent());
  if (!line.args.empty()) {
    IdGroup given;
    given.ids = line.args;
    given.queues = line.filter.queues();
    return ActOnIdsAndPrint(context, *agent, action, {given}, line.dry_run);
  }

  v1::ActRequest request;
  request.set_action(action);
  // Set even when empty: with `all`, an empty filter is the whole queue.
  *request.mutable_selector()->mutable_filter() = line.filter;
  request.mutable_selector()->set_all(line.all);
  if (line.dry_run || line.yes) {
    // Nothing to confirm: the agent resolves the filter and acts at once.
    request.set_dry_run(line.dry_run);
    MF_ASSIGN_OR_RETURN(v1::ActResponse response, agent->Act(request));
    return PrintResult(context, response);
  }

  // The operator confirms a count, and exactly the messages behind that
  // count are acted on: mail that arrives, or starts to match, while the
  // question waits is left alone.
  request.set_dry_run(true);
  MF_ASSIGN_OR_RETURN(v1::ActResponse preview, agent->Act(request));
  if (absl::Status checked =
          CheckPreview(preview, absl::StrCat("agent at ", line.agent));
      !checked.ok()) {
    // What the agent did is what the operator must see.
    if (!preview.dry_run()) context.out().PrintActResponse(preview).IgnoreError();
    return checked;
  }
  if (preview.queue_ids().empty()) {
    v1::ActResponse nothing;
    nothing.set_action(action);
    return PrintResult(context, nothing);
  }
  MF_ASSIGN_OR_RETURN(
      bool confirmed,
      context.Ask(absl::StrCat(ActionVerb(action), " ",
                               MessageCount(preview.queue_ids_size()), " on ",
                               line.agent, "? [y/N] ")));
  if (!confirmed) {
    return absl::CancelledError(absl::StrCat("not confirmed: no message was ",
                                             ActionPastTense(action)));
  }
  return ActOnIdsAndPrint(context, *agent, action, GroupsOf(preview, line.filter),
                          /*dry_run=*/false);
}

}  // namespace

absl::Status CheckAction(const CommandLine& line, bool can_ask) {
  const std::string& verb = line.command;
  if (absl::Status chosen = CheckGatewaysChosen(line); !chosen.ok()) {
    return chosen;
  }
  // Through the controller the ids go to every selected gateway in one
  // request, which an agent accepts up to this size.
  if (!line.controller.empty() && line.args.size() > kIdsPerRequest) {
    return absl::InvalidArgumentError(absl::StrCat(
        "through the controller, at most ", kIdsPerRequest,
        " queue ids per action; select by filter flags instead"));
  }
  if (!line.args.empty()) {
    if (HasFilter(line) && !HasQueuesOnly(line)) {
      return absl::InvalidArgumentError(
          "give queue ids or filter flags, not both (--queue alone may go "
          "with ids: where to look for them)");
    }
    if (line.all) {
      return absl::InvalidArgumentError(
          "--all selects by filter; it cannot be combined with queue ids");
    }
    return absl::OkStatus();
  }
  if (!HasFilter(line) && !line.all) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", verb,
        "' needs queue ids or filter flags (--all for every "
        "message): mailfleet ",
        verb, " ID... or mailfleet ", verb, " --queue Q --match PATTERN ..."));
  }
  if (!line.dry_run && !line.yes && !can_ask) {
    return absl::InvalidArgumentError(
        absl::StrCat("will not ", verb,
                     " messages selected by a filter without confirmation, "
                     "and standard input is not a terminal: pass --yes (or "
                     "--dry-run to see them first)"));
  }
  return absl::OkStatus();
}

absl::Status RunHold(CommandContext& context) {
  return RunAction(context, v1::ACTION_HOLD);
}

absl::Status RunRelease(CommandContext& context) {
  return RunAction(context, v1::ACTION_RELEASE);
}

absl::Status RunRequeue(CommandContext& context) {
  return RunAction(context, v1::ACTION_REQUEUE);
}

absl::Status RunDelete(CommandContext& context) {
  return RunAction(context, v1::ACTION_DELETE);
}

absl::Status RunExpire(CommandContext& context) {
  return RunAction(context, v1::ACTION_EXPIRE);
}

absl::Status RunRespool(CommandContext& context) {
  return RunAction(context, v1::ACTION_RESPOOL);
}

}  // namespace mailfleet::cli
