#include "client/cli/commands.h"

#include <algorithm>
#include <istream>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/channel.h"
#include "client/health_check.h"
#include "common/listen_address.h"
#include "common/security/tls.h"
#include "common/security/tokens.h"

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
    "terminal, it needs --yes instead. Exit status 1 if any message failed. "
    "Through the controller (--controller), an action needs gateways: -g "
    "NAME, -l SELECTOR or --all-gateways; it prints a row per gateway as "
    "each finishes (GATEWAY MATCHED DONE FAILED ELAPSED ERROR), then the "
    "failed messages and a total line, and exits 1 if any gateway or message "
    "failed. A filter's selection is counted on every gateway first, then "
    "acted on, gateway by gateway, by exactly the ids counted.";

constexpr Command kCommands[] = {
    {"gateways", "", "the controller's gateways: state, last heard, queue",
     "Needs --controller. A table NAME ADDRESS STATE LAST-HEARD MESSAGES SIZE "
     "MPA LABELS, with LAST-ERROR when a gateway has one; MESSAGES ends in ? "
     "while the count is from before the gateway's current stream. With -o "
     "json, one Gateway per line.",
     kGatewayFlags, 0, 0, CheckGateways, RunGateways},
    {"summary", "",
     "counts, bytes and ages per queue, top domains and delay reasons",
     "Through the controller: the fleet's totals, a line per gateway, and "
     "the gateways left out of the total (unreachable, not yet synced, or "
     "failed with a filter); exit status 1 if any was left out.",
     kFilterFlags | kSummaryFlags | kGatewayFlags, 0, 0, nullptr, RunSummary},
    {"ls", "", "list messages (every match, page by page, unless --limit)",
     "Through the controller, the table has a GATEWAY column first (-o json: "
     "each message's \"gateway\"); a gateway that fails is reported once on "
     "standard error (mailfleet: gateway NAME (ADDR): error), the others' "
     "messages are still listed, and the exit status is 1.",
     kFilterFlags | kListFlags | kGatewayFlags, 0, 0, nullptr, RunList},
    {"show", "ID", "one message's (or MPA item's) envelope and raw content",
     "Through the controller, needs the message's gateway: exactly one -g "
     "NAME.",
     kShowFlags | kGatewayFlags, 1, 1, CheckShow, RunShow},
    {"hold", "[ID...]", "put messages on hold (postsuper -h)", kActionDetails,
     kFilterFlags | kActionFlags | kGatewayFlags, 0, kAnyNumber, CheckAction, RunHold},
    {"release", "[ID...]", "release held messages (postsuper -H)",
     kActionDetails, kFilterFlags | kActionFlags | kGatewayFlags, 0, kAnyNumber, CheckAction,
     RunRelease},
    {"requeue", "[ID...]",
     "requeue messages under new queue ids (postsuper -r)", kActionDetails,
     kFilterFlags | kActionFlags | kGatewayFlags, 0, kAnyNumber, CheckAction, RunRequeue},
    {"delete", "[ID...]",
     "delete messages for good (postsuper -d; MPA items in mpa-error and "
     "mpa-respool too)",
     kActionDetails, kFilterFlags | kActionFlags | kGatewayFlags, 0, kAnyNumber, CheckAction,
     RunDelete},
    {"expire", "[ID...]",
     "bounce messages at the next queue run (postsuper -e)", kActionDetails,
     kFilterFlags | kActionFlags | kGatewayFlags, 0, kAnyNumber, CheckAction, RunExpire},
    {"respool", "[ID...]",
     "move MPA items from mpa-error to mpa-respool, for the MPA to process "
     "again",
     kActionDetails, kFilterFlags | kActionFlags | kGatewayFlags, 0, kAnyNumber, CheckAction,
     RunRespool},
    {"flush", "[ID...]",
     "deliver deferred mail now: all of it, these messages, or --site DOMAIN",
     "With no ID and no --site, flushes the whole queue (postqueue -f); with "
     "IDs, those messages (postqueue -i); with --site, the mail for one "
     "destination (postqueue -s). Through the controller, needs gateways (-g, "
     "-l or --all-gateways) and prints a row per gateway as each finishes; "
     "exit status 1 if any failed.",
     kFlushFlags | kGatewayFlags, 0, kAnyNumber, CheckFlush, RunFlush},
    {"watch", "",
     "follow the queue as it changes: a snapshot, then every change",
     "At a terminal, redraws the summary and the last changes in place, at "
     "most five times a second. Piped, prints a line for each snapshot "
     "(TIME GENERATION snapshot N messages (REASON)) and for each change "
     "(TIME GENERATION KIND QUEUE-ID FROM->TO [SENDER]). With -o json, "
     "prints every event as one JSON line (a WatchEvent), as it arrives. "
     "Runs until interrupted (exit status 0), until the agent ends the "
     "stream, or for --events N events. Through the controller: the "
     "gateways' states and queue totals, a line per gateway as it changes "
     "(TIME NAME STATE N messages SIZE [mpa STATE]), or a refreshed gateway "
     "table at a terminal; -o json prints each FleetWatchEvent; the filter "
     "flags, --top and --messages are for an agent only.",
     kFilterFlags | kSummaryFlags | kWatchFlags | kGatewayFlags, 0, 0, CheckWatch, RunWatch},
    {"health", "", "whether the agent or controller is up and serving",
     "Asks the gRPC health service (grpc.health.v1.Health/Check) of --agent "
     "or --controller: prints SERVING and exits 0, or exits 1 with the "
     "reason. Needs no token; for container health checks and Kubernetes "
     "probes.",
     0, 0, 0, nullptr, RunHealth},
};

}  // namespace

namespace {

// The bearer token: the token file's first line (a file without one is an
// error, not a call without a token), else $MAILFLEET_TOKEN.
absl::Status ReadToken(const CommandLine& line, const CliEnv& env, std::string* token) {
  if (line.token_file.empty()) {
    *token = std::string(absl::StripAsciiWhitespace(env.token));
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> text = ReadSmallFile(line.token_file, 64 << 10);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--token-file: ", text.status().message()));
  }
  absl::string_view first = *text;
  first = first.substr(0, first.find('\n'));
  *token = std::string(absl::StripAsciiWhitespace(first));
  if (token->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--token-file: ", line.token_file, " holds no token"));
  }
  return absl::OkStatus();
}

// The channel's TLS and the call's token, from the global flags and the
// environment.
absl::Status SetSecurity(const CommandLine& line, const CliEnv& env,
                         std::shared_ptr<grpc::ChannelCredentials>* credentials,
                         std::string* server_name, std::string* token) {
  if (absl::Status s = ReadToken(line, env, token); !s.ok()) return s;
  // A token in clear text off this host is as good as given away.
  const std::string& address = line.controller.empty() ? line.agent : line.controller;
  if (!token->empty() && line.tls_ca.empty() && !IsLoopbackAddress(address)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to send a token without TLS to ", address, ": give --tls-ca"));
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> made =
      MakeChannelCredentials(TlsFiles{line.tls_cert, line.tls_key, line.tls_ca});
  if (!made.ok()) return made.status();
  *credentials = *std::move(made);
  *server_name = line.tls_server_name;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AgentClient*> CommandContext::Agent() {
  if (agent_ == nullptr) {
    AgentClientOptions options;
    if (absl::Status s = SetSecurity(line_, env_, &options.credentials,
                                     &options.tls_server_name, &options.token);
        !s.ok()) {
      return s;
    }
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

absl::StatusOr<ControllerClient*> CommandContext::Controller() {
  if (controller_ == nullptr) {
    // Each gateway's part has the --timeout the command sends along; the
    // call itself waits a little longer, so that a slow gateway comes back
    // as its failure rather than as the whole call's.
    constexpr absl::Duration kMargin = absl::Seconds(10);
    ControllerClientOptions options;
    if (absl::Status s = SetSecurity(line_, env_, &options.credentials,
                                     &options.tls_server_name, &options.token);
        !s.ok()) {
      return s;
    }
    options.rpc_timeout = line_.timeout + kMargin;
    options.stream_timeout = std::max(options.stream_timeout, line_.timeout);
    options.action_timeout = line_.action_timeout + kMargin;
    absl::StatusOr<std::unique_ptr<ControllerClient>> controller =
        ControllerClient::Connect(line_.controller, options);
    if (!controller.ok()) return controller.status();
    controller_ = std::move(*controller);
  }
  return controller_.get();
}

absl::Status CommandContext::CheckHealth() {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string server_name;
  std::string token;  // the health service takes none; read to check the flags alike
  if (absl::Status s = SetSecurity(line_, env_, &credentials, &server_name, &token); !s.ok()) {
    return s;
  }
  const std::string& address = fleet() ? line_.controller : line_.agent;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      OpenChannel(address, credentials, /*max_receive_message_bytes=*/1 << 20, server_name);
  if (!channel.ok()) return channel.status();
  return ::mailfleet::CheckHealth(*channel, /*service=*/"", line_.timeout);
}

void CommandContext::Warn(absl::string_view text) {
  *env_.err << "mailfleet: " << text << "\n";
  env_.err->flush();
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
