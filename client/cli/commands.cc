#include "client/cli/commands.h"

#include <algorithm>
#include <utility>

namespace mailfleet::cli {
namespace {

constexpr Command kCommands[] = {
    {"summary", "",
     "counts, bytes and ages per queue, top domains and delay reasons",
     kFilterFlags | kSummaryFlags, 0, 0, RunSummary},
    {"ls", "", "list messages (every match, page by page, unless --limit)",
     kFilterFlags | kListFlags, 0, 0, RunList},
    {"show", "ID", "one message's envelope and raw content", kShowFlags, 1, 1,
     RunShow},
};

}  // namespace

absl::StatusOr<AgentClient*> CommandContext::Agent() {
  if (agent_ == nullptr) {
    AgentClientOptions options;
    options.rpc_timeout = line_.timeout;
    // A message's stream may take longer than one unary call.
    options.stream_timeout = std::max(options.stream_timeout, line_.timeout);
    absl::StatusOr<std::unique_ptr<AgentClient>> agent =
        AgentClient::Connect(line_.agent, options);
    if (!agent.ok()) return agent.status();
    agent_ = std::move(*agent);
  }
  return agent_.get();
}

absl::Span<const Command> AllCommands() { return kCommands; }

const Command* FindCommand(absl::string_view name) {
  for (const Command& command : kCommands) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

}  // namespace mailfleet::cli
