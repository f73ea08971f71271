#include "client/cli/command_line.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/cli/filter_flags.h"
#include "client/cli/units.h"

namespace mailfleet::cli {
namespace {

absl::Status SetAgent(absl::string_view value, CommandLine* line) {
  if (value.empty()) return absl::InvalidArgumentError("expected host:port");
  line->agent = std::string(value);
  return absl::OkStatus();
}

absl::Status SetController(absl::string_view value, CommandLine* line) {
  if (value.empty()) return absl::InvalidArgumentError("expected host:port");
  line->controller = std::string(value);
  return absl::OkStatus();
}

absl::Status AddGateway(absl::string_view value, CommandLine* line) {
  if (value.empty()) return absl::InvalidArgumentError("expected a gateway name");
  line->gateways.push_back(std::string(value));
  return absl::OkStatus();
}

absl::Status SetLabels(absl::string_view value, CommandLine* line) {
  // The controller parses the selector: one grammar, in one place.
  if (value.empty()) {
    return absl::InvalidArgumentError("expected a label selector (site=ams)");
  }
  line->labels = std::string(value);
  return absl::OkStatus();
}

absl::Status SetAllGateways(absl::string_view, CommandLine* line) {
  line->all_gateways = true;
  return absl::OkStatus();
}

absl::Status SetOutput(absl::string_view value, CommandLine* line) {
  absl::StatusOr<OutputFormat> format = ParseOutputFormat(value);
  if (!format.ok()) return format.status();
  line->format = *format;
  return absl::OkStatus();
}

absl::Status SetTimeout(absl::string_view value, CommandLine* line) {
  absl::StatusOr<absl::Duration> timeout = ParseAge(value);
  if (!timeout.ok()) return timeout.status();
  if (*timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("expected a timeout above 0");
  }
  line->timeout = *timeout;
  line->action_timeout = *timeout;
  return absl::OkStatus();
}

// A flag whose value is a path or name, kept as given.
template <std::string CommandLine::*field>
absl::Status SetText(absl::string_view value, CommandLine* line) {
  if (value.empty()) return absl::InvalidArgumentError("expected a value");
  line->*field = std::string(value);
  return absl::OkStatus();
}

absl::Status SetHelp(absl::string_view, CommandLine* line) {
  line->help = true;
  return absl::OkStatus();
}

absl::Status SetQueues(absl::string_view value, CommandLine* line) {
  return AddQueues(value, &line->filter);
}

absl::Status SetPattern(absl::string_view value, CommandLine* line) {
  if (value.empty()) return absl::InvalidArgumentError("expected a pattern");
  line->filter.set_pattern(std::string(value));
  return absl::OkStatus();
}

absl::Status SetRegex(absl::string_view, CommandLine* line) {
  line->filter.set_regex(true);
  return absl::OkStatus();
}

absl::Status SetFields(absl::string_view value, CommandLine* line) {
  return AddMatchFields(value, &line->filter);
}

absl::Status SetOlderThan(absl::string_view value, CommandLine* line) {
  absl::StatusOr<absl::Duration> age = ParseAge(value);
  if (!age.ok()) return age.status();
  SetDuration(*age, line->filter.mutable_min_age());
  return absl::OkStatus();
}

absl::Status SetNewerThan(absl::string_view value, CommandLine* line) {
  absl::StatusOr<absl::Duration> age = ParseAge(value);
  if (!age.ok()) return age.status();
  if (*age <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("expected an age above 0");
  }
  SetDuration(*age, line->filter.mutable_max_age());
  return absl::OkStatus();
}

absl::Status SetMinSize(absl::string_view value, CommandLine* line) {
  absl::StatusOr<int64_t> size = ParseByteSize(value);
  if (!size.ok()) return size.status();
  line->filter.set_min_size(*size);
  return absl::OkStatus();
}

absl::Status SetMaxSize(absl::string_view value, CommandLine* line) {
  absl::StatusOr<int64_t> size = ParseByteSize(value);
  if (!size.ok()) return size.status();
  // 0 means "unbounded" on the wire, the opposite of what was asked.
  if (*size == 0) return absl::InvalidArgumentError("expected a size above 0");
  line->filter.set_max_size(*size);
  return absl::OkStatus();
}

absl::Status SetLimit(absl::string_view value, CommandLine* line) {
  absl::StatusOr<int64_t> limit = ParsePositiveCount(value);
  if (!limit.ok()) return limit.status();
  line->limit = *limit;
  return absl::OkStatus();
}

absl::Status SetEnvelopeOnly(absl::string_view, CommandLine* line) {
  line->envelope_only = true;
  return absl::OkStatus();
}

absl::Status SetTop(absl::string_view value, CommandLine* line) {
  absl::StatusOr<int64_t> top = ParsePositiveCount(value);
  if (!top.ok()) return top.status();
  // The agent's maximum.
  if (*top > 1000) return absl::InvalidArgumentError("expected at most 1000");
  line->top = static_cast<int32_t>(*top);
  return absl::OkStatus();
}

absl::Status SetAll(absl::string_view, CommandLine* line) {
  line->all = true;
  return absl::OkStatus();
}

absl::Status SetDryRun(absl::string_view, CommandLine* line) {
  line->dry_run = true;
  return absl::OkStatus();
}

absl::Status SetYes(absl::string_view, CommandLine* line) {
  line->yes = true;
  return absl::OkStatus();
}

absl::Status SetSite(absl::string_view value, CommandLine* line) {
  // The agent checks the name; an empty one would mean "no site" on the
  // wire, i.e. flush everything.
  if (value.empty()) return absl::InvalidArgumentError("expected a domain");
  line->site = std::string(value);
  return absl::OkStatus();
}

absl::Status SetMessages(absl::string_view, CommandLine* line) {
  line->messages = true;
  return absl::OkStatus();
}

absl::Status SetHeartbeat(absl::string_view value, CommandLine* line) {
  absl::StatusOr<absl::Duration> interval = ParseAge(value);
  if (!interval.ok()) return interval.status();
  // What the agent accepts.
  if (*interval < absl::Seconds(1) || *interval > absl::Minutes(10)) {
    return absl::InvalidArgumentError("expected 1s to 10m");
  }
  line->heartbeat = *interval;
  return absl::OkStatus();
}

absl::Status SetEvents(absl::string_view value, CommandLine* line) {
  absl::StatusOr<int64_t> events = ParsePositiveCount(value);
  if (!events.ok()) return events.status();
  line->events = *events;
  return absl::OkStatus();
}

constexpr FlagSpec kFlags[] = {
    {"--agent", "", "ADDR", "the agent to ask (host:port)", kGlobalFlags,
     SetAgent},
    {"--controller", "", "ADDR",
     "the controller to ask (host:port), for the gateways it watches; "
     "instead of --agent",
     kGlobalFlags, SetController},
    {"--output", "-o", "FORMAT", "table (default), wide or json", kGlobalFlags,
     SetOutput},
    {"--timeout", "", "DUR",
     "deadline of each call to the agent, or of each gateway's part of a "
     "call to the controller (default 30s; 10m for actions and flush)",
     kGlobalFlags, SetTimeout},
    {"--tls-ca", "", "FILE",
     "talk TLS, checking the server's certificate against this CA (PEM)",
     kGlobalFlags, SetText<&CommandLine::tls_ca>},
    {"--tls-cert", "", "FILE",
     "present this client certificate (PEM; with --tls-key and --tls-ca)",
     kGlobalFlags, SetText<&CommandLine::tls_cert>},
    {"--tls-key", "", "FILE", "the client certificate's private key (PEM)",
     kGlobalFlags, SetText<&CommandLine::tls_key>},
    {"--tls-server-name", "", "NAME",
     "the name the server's certificate must carry, when not the address's "
     "host",
     kGlobalFlags, SetText<&CommandLine::tls_server_name>},
    {"--token-file", "", "FILE",
     "send the bearer token in FILE's first line (default: $MAILFLEET_TOKEN)",
     kGlobalFlags, SetText<&CommandLine::token_file>},
    {"--help", "-h", "", "print this help", kGlobalFlags, SetHelp},

    {"--gateway", "-g", "NAME", "this gateway (repeatable)", kGatewayFlags,
     AddGateway},
    {"--labels", "-l", "SELECTOR",
     "the gateways whose labels match: site=ams,env!=test", kGatewayFlags,
     SetLabels},
    {"--all-gateways", "", "",
     "every gateway (queries ask all of them without a selection; actions "
     "and flush need one)",
     kGatewayFlags, SetAllGateways},

    {"--queue", "", "Q",
     "only these queues (repeatable, or comma-separated): maildrop, incoming, "
     "active, deferred, hold, corrupt, mpa-outgoing, mpa-error, mpa-spool, "
     "mpa-respool; for show, the side to look on when an id names both a "
     "Postfix message and an MPA item",
     kFilterFlags | kShowFlags, SetQueues},
    {"--match", "", "PATTERN", "case-insensitive substring to look for",
     kFilterFlags, SetPattern},
    {"--regex", "", "", "PATTERN is an RE2 regular expression", kFilterFlags,
     SetRegex},
    {"--field", "", "F",
     "match PATTERN only against these fields (repeatable): queue-id, sender, "
     "recipient, reason, client; all by default",
     kFilterFlags, SetFields},
    {"--older-than", "", "DUR",
     "arrived more than DUR ago (90s, 30m, 2h, 3d, 1w)", kFilterFlags,
     SetOlderThan},
    {"--newer-than", "", "DUR", "arrived less than DUR ago", kFilterFlags,
     SetNewerThan},
    {"--min-size", "", "N",
     "at least N bytes (k, M, G suffixes: powers of 1024)", kFilterFlags,
     SetMinSize},
    {"--max-size", "", "N", "at most N bytes", kFilterFlags, SetMaxSize},

    {"--limit", "", "N", "at most N messages (default: every match)",
     kListFlags, SetLimit},
    {"--envelope-only", "", "", "the envelope, not the content", kShowFlags,
     SetEnvelopeOnly},
    {"--top", "", "N", "how many top domains and delay reasons (default 10)",
     kSummaryFlags, SetTop},

    {"--all", "", "",
     "act on every message the filter selects even if that is the whole "
     "queue; alone, selects every message",
     kActionFlags, SetAll},
    {"--dry-run", "", "", "show what would be acted on; change nothing",
     kActionFlags, SetDryRun},
    {"--yes", "", "",
     "do not ask before acting on a filter's selection (needed when standard "
     "input is not a terminal)",
     kActionFlags, SetYes},
    {"--site", "", "DOMAIN",
     "flush only mail for DOMAIN (needs fast_flush_domains; postqueue -s)",
     kFlushFlags, SetSite},

    {"--messages", "", "",
     "include the messages: the snapshot lists them and each change carries "
     "its message (the sender in the log, everything in -o json)",
     kWatchFlags, SetMessages},
    {"--heartbeat", "", "DUR",
     "the agent sends a heartbeat after DUR without changes (1s to 10m; "
     "default 15s)",
     kWatchFlags, SetHeartbeat},
    {"--events", "", "N",
     "exit after N events (snapshot parts, deltas and heartbeats)", kWatchFlags,
     SetEvents},
};

const FlagSpec* FindFlag(absl::string_view name) {
  for (const FlagSpec& flag : kFlags) {
    if (flag.name == name ||
        (!flag.short_name.empty() && flag.short_name == name)) {
      return &flag;
    }
  }
  return nullptr;
}

}  // namespace

absl::Span<const FlagSpec> AllFlags() { return kFlags; }

absl::StatusOr<CommandLine> ParseCommandLine(
    const std::vector<std::string>& args) {
  CommandLine line;
  bool flags_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    const bool is_flag = !flags_ended && word.size() > 1 && word[0] == '-';
    if (!is_flag) {
      if (line.command.empty()) {
        line.command = word;
      } else {
        line.args.push_back(word);
      }
      continue;
    }
    if (word == "--") {
      flags_ended = true;
      continue;
    }
    // --name=value, --name value, -o value, -ovalue.
    absl::string_view name = word;
    absl::string_view inline_value;
    bool has_inline_value = false;
    if (absl::StartsWith(word, "--")) {
      if (size_t eq = name.find('='); eq != absl::string_view::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_inline_value = true;
      }
    } else if (word.size() > 2 && FindFlag(name.substr(0, 2)) != nullptr) {
      inline_value = name.substr(2);
      if (absl::StartsWith(inline_value, "=")) inline_value.remove_prefix(1);
      name = name.substr(0, 2);
      has_inline_value = true;
    }
    const FlagSpec* flag = FindFlag(name);
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag '", name, "'"));
    }
    absl::string_view value;
    if (flag->value_name.empty()) {
      if (has_inline_value) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag ", flag->name, " takes no value"));
      }
    } else if (has_inline_value) {
      value = inline_value;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("flag ", flag->name, " needs a value: ", flag->name, " ",
                       flag->value_name));
    }
    if (absl::Status status = flag->apply(value, &line); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid ", flag->name, " '", value, "': ", status.message()));
    }
    line.given.push_back(flag);
  }
  return line;
}

}  // namespace mailfleet::cli
