// The command line of `mailfleet`: global flags, one command, its
// arguments and its flags, in any order ("mailfleet ls --queue hold" and
// "mailfleet --queue hold ls" are the same). Every flag is described once,
// in a table that also feeds --help; each belongs to a group, and each
// command says which groups it takes, so adding a command or a target
// (--controller) means adding rows, not another parser.
#ifndef MAILFLEET_CLIENT_CLI_COMMAND_LINE_H_
#define MAILFLEET_CLIENT_CLI_COMMAND_LINE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "client/cli/output.h"
#include "mailfleet/v1/types.pb.h"

namespace mailfleet::cli {

// Which commands a flag is for.
enum FlagGroup : uint32_t {
  kGlobalFlags = 1u << 0,   // Every command.
  kFilterFlags = 1u << 1,   // Commands that select messages.
  kListFlags = 1u << 2,     // ls
  kShowFlags = 1u << 3,     // show
  kSummaryFlags = 1u << 4,  // summary
  kActionFlags = 1u << 5,   // hold, release, requeue, delete, expire, respool
  kFlushFlags = 1u << 6,    // flush
  kWatchFlags = 1u << 7,    // watch
  // -g, -l, --all-gateways: which of the controller's gateways. Every
  // command takes them, and only with --controller.
  kGatewayFlags = 1u << 8,
};

struct CommandLine;

struct FlagSpec {
  absl::string_view name;        // "--queue"
  absl::string_view short_name;  // "-o", or empty
  absl::string_view value_name;  // "Q"; empty for a switch
  absl::string_view help;
  uint32_t group;  // FlagGroup bits: the commands that take it
  // Parses the value into `line`; the message says what was expected.
  absl::Status (*apply)(absl::string_view value, CommandLine* line);
};

struct CommandLine {
  // Global flags. Exactly one of `agent` and `controller` is needed.
  std::string agent;
  std::string controller;
  OutputFormat format = OutputFormat::kTable;
  absl::Duration timeout = absl::Seconds(30);
  // Act and Flush: postsuper on many thousands of messages takes minutes.
  // --timeout sets both.
  absl::Duration action_timeout = absl::Minutes(10);
  bool help = false;
  // TLS: the CA that the agent's or controller's certificate must chain
  // to, this client's certificate and key (mTLS), and the name the
  // server's certificate must carry when not the address's host.
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;
  // The bearer token's file; without it, MAILFLEET_TOKEN.
  std::string token_file;

  // The first word that is not a flag, and the words after it.
  std::string command;
  std::vector<std::string> args;

  // Command flags.
  v1::Filter filter;
  int64_t limit = 0;  // 0: no limit.
  bool envelope_only = false;
  int32_t top = 0;       // 0: the agent's default.
  bool all = false;      // A filter may select the whole queue.
  bool dry_run = false;  // Only report what would be acted on.
  bool yes = false;      // Act on a filter's selection without asking.
  std::string site;      // flush --site
  // watch: with the messages; a heartbeat interval (0: the agent's
  // default); stop after this many events (0: never).
  bool messages = false;
  absl::Duration heartbeat = absl::ZeroDuration();
  int64_t events = 0;

  // Gateway selection, with --controller: by name (-g, repeatable), by
  // label selector (-l), or all; at most one kind.
  std::vector<std::string> gateways;
  std::string labels;
  bool all_gateways = false;

  // Every flag given, in order, to check that it fits the command.
  std::vector<const FlagSpec*> given;
};

absl::Span<const FlagSpec> AllFlags();

// Parses `args` (without the program name). Every error is a usage error,
// and its message names the flag or word at fault.
absl::StatusOr<CommandLine> ParseCommandLine(
    const std::vector<std::string>& args);

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_COMMAND_LINE_H_
