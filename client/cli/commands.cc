#include "client/cli/commands.h"

#include <algorithm>
#include <istream>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"

namespace mailfleet::cli {
namespace {

// What every action's --help adds.
constexpr absl::string_view kActionDetails =
    "Select messages by queue ID, or by filter flags, not both (--queue "
    "may go with IDs: where to look for them, for an ID that names both a "
    "Postfix message and an MPA item). A filter "
    "that selects every message needs --all; --all alone selects the whole "
    "queue. Selected by a filter, the action first runs as a dry run, says "
    "how many messages it selected and asks before going on, then acts on "
    "exactly the messages it counted; when standard input is not a "
    "terminal, it needs --yes instead. Exit status 1 if any message failed.";

constexpr Command kCommands[] = {
    {"summary", "",
     "counts, bytes and ages per queue, top domains and delay reasons", "",
     kFilterFlags | kSummaryFlags, 0, 0, nullptr, RunSummary},
    {"ls", "", "list messages (every match, page by page, unless --limit)", "",
     kFilterFlags | kListFlags, 0, 0, nullptr, RunList},
    {"show", "ID", "one message's (or MPA item's) envelope and raw content", "",
     kShowFlags, 1, 1, CheckShow, RunShow},
    {"hold", "[ID...]", "put messages on hold (postsuper -h)", kActionDetails,
     kFilterFlags | kActionFlags, 0, kAnyNumber, CheckAction, RunHold},
    {"release", "[ID...]", "release held messages (postsuper -H)",
     kActionDetails, kFilterFlags | kActionFlags, 0, kAnyNumber, CheckAction,
     RunRelease},
    {"requeue", "[ID...]",
     "requeue messages under new queue ids (postsuper -r)", kActionDetails,
     kFilterFlags | kActionFlags, 0, kAnyNumber, CheckAction, RunRequeue},
    {"delete", "[ID...]",
     "delete messages for good (postsuper -d; MPA items in mpa-error and "
     "mpa-respool too)",
     kActionDetails, kFilterFlags | kActionFlags, 0, kAnyNumber, CheckAction,
     RunDelete},
    {"expire", "[ID...]",
     "bounce messages at the next queue run (postsuper -e)", kActionDetails,
     kFilterFlags | kActionFlags, 0, kAnyNumber, CheckAction, RunExpire},
    {"respool", "[ID...]",
     "move MPA items from mpa-error to mpa-respool, for the MPA to process "
     "again",
     kActionDetails, kFilterFlags | kActionFlags, 0, kAnyNumber, CheckAction,
     RunRespool},
    {"flush", "[ID...]",
     "deliver deferred mail now: all of it, these messages, or --site DOMAIN",
     "With no ID and no --site, flushes the whole queue (postqueue -f); with "
     "IDs, those messages (postqueue -i); with --site, the mail for one "
     "destination (postqueue -s).",
     kFlushFlags, 0, kAnyNumber, CheckFlush, RunFlush},
    {"watch", "",
     "follow the queue as it changes: a snapshot, then every change",
     "At a terminal, redraws the summary and the last changes in place, at "
     "most five times a second. Piped, prints a line for each snapshot "
     "(TIME GENERATION snapshot N messages (REASON)) and for each change "
     "(TIME GENERATION KIND QUEUE-ID FROM->TO [SENDER]). With -o json, "
     "prints every event as one JSON line (a WatchEvent), as it arrives. "
     "Runs until interrupted (exit status 0), until the agent ends the "
     "stream, or for --events N events.",
     kFilterFlags | kSummaryFlags | kWatchFlags, 0, 0, nullptr, RunWatch},
};

}  // namespace

absl::StatusOr<AgentClient*> CommandContext::Agent() {
  if (agent_ == nullptr) {
    AgentClientOptions options;
    options.rpc_timeout = line_.timeout;
    // A message's stream may take longer than one unary call.
    options.stream_timeout = std::max(options.stream_timeout, line_.timeout);
    options.action_timeout = line_.action_timeout;
    absl::StatusOr<std::unique_ptr<AgentClient>> agent =
        AgentClient::Connect(line_.agent, options);
    if (!agent.ok()) return agent.status();
    agent_ = std::move(*agent);
  }
  return agent_.get();
}

absl::StatusOr<bool> CommandContext::Ask(absl::string_view question) {
  if (!CanAsk()) {
    return absl::FailedPreconditionError("no terminal to ask for confirmation");
  }
  // Whatever the command printed comes before the question.
  if (absl::Status status = out_.Flush(); !status.ok()) return status;
  env_.err->write(question.data(),
                  static_cast<std::streamsize>(question.size()));
  env_.err->flush();
  std::string answer;
  if (!std::getline(*env_.in, answer)) {
    // End of input (^D): no answer is a no, on a line of its own.
    *env_.err << "\n";
    return false;
  }
  absl::AsciiStrToLower(&answer);
  absl::string_view word = absl::StripAsciiWhitespace(answer);
  return word == "y" || word == "yes";
}

absl::Span<const Command> AllCommands() { return kCommands; }

const Command* FindCommand(absl::string_view name) {
  for (const Command& command : kCommands) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

}  // namespace mailfleet::cli
