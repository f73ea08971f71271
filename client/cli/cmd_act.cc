// mailfleet hold|release|requeue|delete|expire|respool [ID...]
//     [filter flags] [--all] [--dry-run] [--yes]
#include <algorithm>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/cli/action_text.h"
#include "client/cli/commands.h"
#include "proto/queue_kind_proto.h"
#include "common/status_macros.h"

namespace mailfleet::cli {
namespace {

// Queue ids per Act request: well below the agent's limit (100,000) and
// its 4 MiB request size, so that any number of ids can be sent.
constexpr size_t kIdsPerRequest = 10000;

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

void Merge(const v1::ActResponse& part, v1::ActResponse* sum) {
  sum->set_matched(sum->matched() + part.matched());
  sum->set_succeeded(sum->succeeded() + part.succeeded());
  sum->set_failed(sum->failed() + part.failed());
  sum->mutable_queue_ids()->MergeFrom(part.queue_ids());
  sum->mutable_failures()->MergeFrom(part.failures());
}

// Acts on `ids`, each once, in order, a batch per request, looking for them
// in `queues` (all when empty), and adds up the answers in `sum`. When a
// batch fails, `sum` still holds what the batches before it did, and
// `*answered` says whether there were any.
absl::Status ActOnIds(AgentClient& agent, v1::Action action,
                      const std::vector<std::string>& ids,
                      const google::protobuf::RepeatedField<int>& queues,
                      bool dry_run, v1::ActResponse* sum, bool* answered) {
  sum->set_action(action);
  sum->set_dry_run(dry_run);
  // The agent counts a repeated id once per request; across batches only
  // this can.
  std::vector<std::string> unique;
  unique.reserve(ids.size());
  std::unordered_set<std::string> seen;
  for (const std::string& id : ids) {
    if (seen.insert(id).second) unique.push_back(id);
  }
  for (size_t begin = 0; begin < unique.size(); begin += kIdsPerRequest) {
    const size_t end = std::min(unique.size(), begin + kIdsPerRequest);
    v1::ActRequest request;
    request.set_action(action);
    request.set_dry_run(dry_run);
    if (!queues.empty()) {
      *request.mutable_selector()->mutable_filter()->mutable_queues() = queues;
    }
    for (size_t i = begin; i < end; ++i) {
      request.mutable_selector()->add_queue_ids(unique[i]);
    }
    absl::StatusOr<v1::ActResponse> part = agent.Act(request);
    if (!part.ok()) {
      if (begin == 0) return part.status();
      return absl::Status(
          part.status().code(),
          absl::StrCat(part.status().message(), " (stopped after ", begin,
                       " of ", unique.size(), " messages)"));
    }
    Merge(*part, sum);
    *answered = true;
  }
  return absl::OkStatus();
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

// Ids and where to look for them.
struct IdGroup {
  std::vector<std::string> ids;
  google::protobuf::RepeatedField<int> queues;
};

absl::Status ActOnIdsAndPrint(CommandContext& context, AgentClient& agent,
                              v1::Action action, const std::vector<IdGroup>& groups,
                              bool dry_run) {
  v1::ActResponse sum;
  bool answered = false;
  absl::Status status;
  for (const IdGroup& group : groups) {
    if (group.ids.empty()) continue;
    status = ActOnIds(agent, action, group.ids, group.queues, dry_run, &sum, &answered);
    if (!status.ok()) break;
  }
  // What was done before a failed batch is shown ahead of the error.
  if (!answered) return status;
  absl::Status printed = PrintResult(context, sum);
  return status.ok() ? printed : status;
}

// The ids a dry run selected, by side: an id may name both a Postfix
// message and an MPA item, and the one counted is the one to act on. From
// an agent that does not say (no queues), the filter's queues go along.
std::vector<IdGroup> GroupsOf(const v1::ActResponse& preview,
                              const v1::Filter& filter) {
  if (preview.queues_size() != preview.queue_ids_size()) {
    IdGroup all;
    all.ids.assign(preview.queue_ids().begin(), preview.queue_ids().end());
    all.queues = filter.queues();
    return {all};
  }
  IdGroup postfix, mpa;
  for (int q = v1::POSTFIX_MAILDROP; q <= v1::POSTFIX_CORRUPT; ++q) postfix.queues.Add(q);
  for (int q = v1::MPA_OUTGOING; q <= v1::MPA_RESPOOL; ++q) mpa.queues.Add(q);
  for (int i = 0; i < preview.queue_ids_size(); ++i) {
    IdGroup& side =
        ProtoQueueSource(preview.queues(i)) == QueueSource::kMpa ? mpa : postfix;
    side.ids.push_back(preview.queue_ids(i));
  }
  return {postfix, mpa};
}

// The dry run's answer is what the operator is asked about: it must be
// one, and list every message it counts.
absl::Status CheckPreview(CommandContext& context,
                          const v1::ActResponse& preview,
                          const std::string& agent) {
  if (!preview.dry_run()) {
    context.out().PrintActResponse(preview).IgnoreError();
    return absl::InternalError(absl::StrCat(
        "agent at ", agent, " acted although asked for a dry run"));
  }
  if (preview.matched() != preview.queue_ids_size()) {
    return absl::InternalError(
        absl::StrCat("agent at ", agent, " counted ",
                     MessageCount(preview.matched()), " but listed ",
                     preview.queue_ids_size(), " queue ids; nothing was done"));
  }
  return absl::OkStatus();
}

absl::Status RunAction(CommandContext& context, v1::Action action) {
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
  MF_RETURN_IF_ERROR(CheckPreview(context, preview, line.agent));
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
