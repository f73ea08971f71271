// Flags, values and filters: what `mailfleet` accepts and the usage errors
// it gives for the rest.
#include "client/cli/command_line.h"

#include <sstream>

#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/cli/cli.h"
#include "client/cli/units.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mailfleet::cli {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

CommandLine Parse(std::vector<std::string> args) {
  absl::StatusOr<CommandLine> line = ParseCommandLine(args);
  EXPECT_TRUE(line.ok()) << line.status();
  return line.ok() ? *line : CommandLine();
}

std::string ParseError(std::vector<std::string> args) {
  absl::StatusOr<CommandLine> line = ParseCommandLine(args);
  EXPECT_FALSE(line.ok());
  return line.ok() ? "" : std::string(line.status().message());
}

struct CliRun {
  int exit_code;
  std::string out;
  std::string err;
};

// Usage errors are found before any connection is made, so no agent is
// needed here.
CliRun RunArgs(std::vector<std::string> args) {
  std::ostringstream out, err;
  CliEnv env{&out, &err, absl::FromUnixSeconds(1700000000),
             absl::UTCTimeZone()};
  int exit_code = RunCli(args, env);
  return {exit_code, out.str(), err.str()};
}

TEST(CommandLineTest, FlagsMayComeBeforeOrAfterTheCommand) {
  CommandLine before = Parse({"--agent", "gw1:7000", "-o", "json", "--queue",
                              "hold", "ls", "--limit", "5"});
  CommandLine after =
      Parse({"ls", "--limit=5", "--queue=hold", "-ojson", "--agent=gw1:7000"});
  CommandLine short_equals =
      Parse({"ls", "--limit=5", "--queue=hold", "-o=json", "--agent=gw1:7000"});
  for (const CommandLine& line : {before, after, short_equals}) {
    EXPECT_EQ(line.command, "ls");
    EXPECT_EQ(line.agent, "gw1:7000");
    EXPECT_EQ(line.format, OutputFormat::kJson);
    EXPECT_EQ(line.limit, 5);
    EXPECT_THAT(line.filter.queues(), ElementsAre(v1::POSTFIX_HOLD));
  }
}

TEST(CommandLineTest, QueuesAreRepeatableAndCommaSeparatedWithoutDuplicates) {
  CommandLine line = Parse({"ls", "--queue", "deferred,mpa-error", "--queue",
                            "HOLD", "--queue", "deferred"});
  EXPECT_THAT(
      line.filter.queues(),
      ElementsAre(v1::POSTFIX_DEFERRED, v1::MPA_ERROR, v1::POSTFIX_HOLD));
}

TEST(CommandLineTest, UnknownQueueNamesTheQueueAndTheChoices) {
  EXPECT_THAT(ParseError({"ls", "--queue", "deferred,bounce"}),
              AllOf(StartsWith("invalid --queue 'deferred,bounce': unknown "
                               "queue 'bounce'"),
                    HasSubstr("mpa-error")));
  EXPECT_THAT(ParseError({"ls", "--queue", "hold,,deferred"}),
              HasSubstr("empty queue name"));
}

TEST(CommandLineTest, MatchFlagsBuildThePatternAndFields) {
  CommandLine line =
      Parse({"ls", "--match", "Example\\.COM$", "--regex", "--field",
             "sender,recipient", "--field", "client"});
  EXPECT_EQ(line.filter.pattern(), "Example\\.COM$");
  EXPECT_TRUE(line.filter.regex());
  EXPECT_THAT(line.filter.fields(),
              ElementsAre(v1::MATCH_FIELD_SENDER, v1::MATCH_FIELD_RECIPIENT,
                          v1::MATCH_FIELD_CLIENT_ADDRESS));
  EXPECT_THAT(ParseError({"ls", "--field", "subject"}),
              HasSubstr("unknown field 'subject': expected queue-id, sender, "
                        "recipient, reason or client"));
}

TEST(CommandLineTest, AgesBecomeFilterDurations) {
  CommandLine line = Parse({"ls", "--older-than", "90s", "--newer-than", "1w"});
  EXPECT_EQ(line.filter.min_age().seconds(), 90);
  EXPECT_EQ(line.filter.max_age().seconds(), 7 * 86400);
  EXPECT_FALSE(line.filter.has_max_age() && line.filter.max_age().nanos());
}

TEST(CommandLineTest, AgeWithUnknownUnitIsAUsageErrorThatSaysWhatFits) {
  EXPECT_EQ(ParseError({"ls", "--older-than", "3x"}),
            "invalid --older-than '3x': expected a whole number followed by "
            "s, m, h, d or w, e.g. 90s, 30m, 2h, 3d, 1w");
  for (const char* bad : {"", "3", "h", "-3h", "1.5h", "3 h", "2hh"}) {
    EXPECT_FALSE(ParseCommandLine({"ls", "--newer-than", bad}).ok()) << bad;
  }
  CliRun run = RunArgs({"--agent", "127.0.0.1:1", "ls", "--older-than", "3x"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_EQ(run.err,
            "mailfleet: invalid --older-than '3x': expected a whole number "
            "followed by s, m, h, d or w, e.g. 90s, 30m, 2h, 3d, 1w\n");
  EXPECT_EQ(run.out, "");
}

TEST(CommandLineTest, SizesArePowersOf1024) {
  EXPECT_EQ(Parse({"ls", "--min-size", "10k"}).filter.min_size(), 10240);
  EXPECT_EQ(Parse({"ls", "--min-size", "10K"}).filter.min_size(), 10240);
  EXPECT_EQ(Parse({"ls", "--max-size", "2M"}).filter.max_size(), 2 << 20);
  EXPECT_EQ(Parse({"ls", "--max-size", "1G"}).filter.max_size(), 1 << 30);
  EXPECT_EQ(Parse({"ls", "--min-size", "512"}).filter.min_size(), 512);
  EXPECT_THAT(ParseError({"ls", "--min-size", "10kb"}),
              StartsWith("invalid --min-size '10kb': expected a whole number "
                         "of bytes"));
  EXPECT_THAT(ParseError({"ls", "--max-size", "0"}),
              HasSubstr("expected a size above 0"));
  EXPECT_THAT(ParseError({"ls", "--max-size", "99999999999999G"}),
              HasSubstr("too large"));
}

TEST(UnitsTest, ParsesCompoundAges) {
  EXPECT_EQ(*ParseAge("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseAge("3d"), absl::Hours(72));
  EXPECT_EQ(*ParseAge("0s"), absl::ZeroDuration());
  EXPECT_FALSE(ParseAge("99999999999w").ok());
}

TEST(CommandLineTest, ValueFlagsNeedAValueAndSwitchesTakeNone) {
  EXPECT_EQ(ParseError({"ls", "--queue"}),
            "flag --queue needs a value: --queue Q");
  EXPECT_EQ(ParseError({"ls", "--regex=yes"}), "flag --regex takes no value");
  EXPECT_EQ(ParseError({"ls", "--frobnicate"}), "unknown flag '--frobnicate'");
  EXPECT_EQ(ParseError({"ls", "-queue", "x"}), "unknown flag '-queue'");
  EXPECT_EQ(ParseError({"ls", "--limit", "0"}),
            "invalid --limit '0': expected a whole number above 0");
  EXPECT_EQ(ParseError({"-o", "yaml", "ls"}),
            "invalid --output 'yaml': unknown output format 'yaml': expected "
            "table, wide or json");
}

TEST(CommandLineTest, DoubleDashEndsFlags) {
  CommandLine line = Parse({"show", "--", "-odd-id"});
  EXPECT_EQ(line.command, "show");
  EXPECT_THAT(line.args, ElementsAre("-odd-id"));
}

TEST(CliUsageTest, FlagOfAnotherCommandIsAUsageError) {
  CliRun run = RunArgs({"--agent", "a:1", "ls", "--envelope-only"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_EQ(run.err,
            "mailfleet: flag --envelope-only does not apply to 'ls'\n");
  run = RunArgs({"--agent", "a:1", "show", "X1", "--match", "x"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_EQ(run.err, "mailfleet: flag --match does not apply to 'show'\n");
  // --queue does: the side to look on, when an id names one of each.
  run = RunArgs({"--agent", "127.0.0.1:1", "show", "X1", "--queue", "hold",
                 "--queue", "mpa-error"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_EQ(run.err,
            "mailfleet: show takes one --queue: the side (Postfix or MPA) to "
            "look on\n");
}

TEST(CliUsageTest, CommandAndArgumentsAreChecked) {
  EXPECT_EQ(RunArgs({"--agent", "a:1"}).err,
            "mailfleet: no command given; see mailfleet --help\n");
  EXPECT_EQ(RunArgs({"--agent", "a:1", "lst"}).err,
            "mailfleet: unknown command 'lst': expected gateways, summary, "
            "ls, show, "
            "hold, release, requeue, delete, expire, respool, flush, watch, "
            "health\n");
  EXPECT_EQ(RunArgs({"--agent", "a:1", "show"}).err,
            "mailfleet: 'show' needs ID: mailfleet show ID\n");
  EXPECT_EQ(RunArgs({"--agent", "a:1", "show", "A", "B"}).err,
            "mailfleet: unexpected argument 'B' for 'show'\n");
  EXPECT_EQ(RunArgs({"--agent", "a:1", "ls", "extra"}).err,
            "mailfleet: unexpected argument 'extra' for 'ls'\n");
  CliRun run = RunArgs({"ls"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_EQ(run.err,
            "mailfleet: no agent given: --agent ADDR (or --controller "
            "ADDR)\n");
}

TEST(CommandLineTest, ActionFlags) {
  CommandLine line = Parse({"delete", "--queue", "hold", "--all", "--dry-run",
                            "--yes", "--timeout", "2h"});
  EXPECT_TRUE(line.all);
  EXPECT_TRUE(line.dry_run);
  EXPECT_TRUE(line.yes);
  EXPECT_EQ(line.timeout, absl::Hours(2));
  EXPECT_EQ(line.action_timeout, absl::Hours(2));
  EXPECT_EQ(Parse({"flush", "--site=example.net"}).site, "example.net");
  EXPECT_EQ(ParseError({"flush", "--site="}),
            "invalid --site '': expected a domain");
  EXPECT_EQ(ParseError({"hold", "--yes=no"}), "flag --yes takes no value");
  // Without --timeout, actions wait longer than queries.
  CommandLine defaults = Parse({"hold", "X"});
  EXPECT_EQ(defaults.timeout, absl::Seconds(30));
  EXPECT_EQ(defaults.action_timeout, absl::Minutes(10));
}

TEST(CliUsageTest, ActionFlagsApplyOnlyToActions) {
  EXPECT_EQ(RunArgs({"--agent", "a:1", "ls", "--yes"}).err,
            "mailfleet: flag --yes does not apply to 'ls'\n");
  EXPECT_EQ(RunArgs({"--agent", "a:1", "flush", "--all"}).err,
            "mailfleet: flag --all does not apply to 'flush'\n");
  EXPECT_EQ(RunArgs({"--agent", "a:1", "flush", "--queue", "deferred"}).err,
            "mailfleet: flag --queue does not apply to 'flush'\n");
  CliRun run = RunArgs({"--agent", "a:1", "hold", "--site", "example.net"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_EQ(run.err, "mailfleet: flag --site does not apply to 'hold'\n");
}

TEST(CliUsageTest, ActionSelectionIsCheckedBeforeAnythingIsSent) {
  // Port 1 on loopback: a usage error must come before any connection.
  CliRun run = RunArgs({"--agent", "127.0.0.1:1", "hold", "4B2F1A0F3E",
                        "--match", "example.net"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_EQ(run.err,
            "mailfleet: give queue ids or filter flags, not both (--queue "
            "alone may go with ids: where to look for them)\n");
  run = RunArgs({"--agent", "127.0.0.1:1", "release"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_EQ(run.err,
            "mailfleet: 'release' needs queue ids or filter flags (--all for "
            "every message): mailfleet release ID... or mailfleet release "
            "--queue Q --match PATTERN ...\n");
  // No terminal in RunArgs: a filter's selection needs --yes.
  run = RunArgs({"--agent", "127.0.0.1:1", "expire", "--older-than", "5d"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("pass --yes"));
  run = RunArgs({"--agent", "127.0.0.1:1", "flush", "--site", "example.net",
                 "4B2F1A0F3E"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_EQ(run.err, "mailfleet: flush takes queue ids or --site, not both\n");
  run = RunArgs({"--agent", "127.0.0.1:1", "hold", "--regex"});
  EXPECT_EQ(run.err, "mailfleet: --regex needs a pattern: --match PATTERN\n");
}

TEST(CliUsageTest, FiltersThatCannotMatchAreUsageErrors) {
  CliRun run = RunArgs(
      {"--agent", "a:1", "ls", "--older-than", "2d", "--newer-than", "1d"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_EQ(run.err,
            "mailfleet: --older-than 48h is longer than --newer-than 24h: "
            "nothing can match\n");
  run =
      RunArgs({"--agent", "a:1", "ls", "--min-size", "2M", "--max-size", "1M"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("--min-size 2097152 is larger than"));
  run = RunArgs({"--agent", "a:1", "ls", "--regex"});
  EXPECT_EQ(run.err, "mailfleet: --regex needs a pattern: --match PATTERN\n");
  run = RunArgs({"--agent", "a:1", "ls", "--field", "sender"});
  EXPECT_EQ(run.exit_code, kExitUsage);
}

TEST(CliUsageTest, InvalidRegexIsAUsageErrorWithRe2sReason) {
  CliRun run =
      RunArgs({"--agent", "a:1", "ls", "--match", "(unclosed", "--regex"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_EQ(run.err,
            "mailfleet: invalid regular expression '(unclosed': missing ): "
            "(unclosed\n");
  // Not a regex: the same text is a plain substring.
  EXPECT_TRUE(ParseCommandLine({"ls", "--match", "(unclosed"}).ok());
}

TEST(CommandLineTest, WatchFlags) {
  CommandLine line =
      Parse({"watch", "--queue", "deferred", "--messages", "--heartbeat", "30s",
             "--events", "5", "--top", "3"});
  EXPECT_TRUE(line.messages);
  EXPECT_EQ(line.heartbeat, absl::Seconds(30));
  EXPECT_EQ(line.events, 5);
  EXPECT_EQ(line.top, 3);
  EXPECT_THAT(line.filter.queues(), ElementsAre(v1::POSTFIX_DEFERRED));
  CommandLine defaults = Parse({"watch"});
  EXPECT_FALSE(defaults.messages);
  EXPECT_EQ(defaults.heartbeat, absl::ZeroDuration());
  EXPECT_EQ(defaults.events, 0);
}

TEST(CliUsageTest, BadWatchFlagsAreUsageErrors) {
  // The agent's bounds for heartbeats.
  CliRun run = RunArgs({"--agent", "a:1", "watch", "--heartbeat", "20m"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_EQ(run.err,
            "mailfleet: invalid --heartbeat '20m': expected 1s to 10m\n");
  EXPECT_EQ(RunArgs({"--agent", "a:1", "watch", "--heartbeat", "0s"}).err,
            "mailfleet: invalid --heartbeat '0s': expected 1s to 10m\n");
  run = RunArgs({"--agent", "a:1", "watch", "--events", "0"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_THAT(run.err, StartsWith("mailfleet: invalid --events '0': "));
  EXPECT_EQ(RunArgs({"--agent", "a:1", "watch", "--messages=yes"}).err,
            "mailfleet: flag --messages takes no value\n");
  EXPECT_EQ(RunArgs({"--agent", "a:1", "ls", "--events", "3"}).err,
            "mailfleet: flag --events does not apply to 'ls'\n");
  EXPECT_EQ(RunArgs({"--agent", "a:1", "watch", "--limit", "3"}).err,
            "mailfleet: flag --limit does not apply to 'watch'\n");
  EXPECT_EQ(RunArgs({"--agent", "a:1", "watch", "now"}).err,
            "mailfleet: unexpected argument 'now' for 'watch'\n");
  EXPECT_EQ(RunArgs({"watch"}).err,
            "mailfleet: no agent given: --agent ADDR (or --controller "
            "ADDR)\n");
}

TEST(CliUsageTest, HelpPrintsUsageAndSucceeds) {
  CliRun run = RunArgs({"--help"});
  EXPECT_EQ(run.exit_code, kExitOk);
  EXPECT_THAT(run.out, StartsWith("usage: mailfleet --agent ADDR"));
  EXPECT_THAT(run.out, HasSubstr("--older-than DUR"));
  EXPECT_EQ(run.err, "");
  run = RunArgs({"show", "-h"});
  EXPECT_EQ(run.exit_code, kExitOk);
  EXPECT_THAT(run.out, HasSubstr("--envelope-only"));
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("--older-than")));
  run = RunArgs({"delete", "--help"});
  EXPECT_EQ(run.exit_code, kExitOk);
  EXPECT_THAT(run.out, StartsWith("usage: mailfleet --agent ADDR|--controller "
                                  "ADDR [global flags] delete [ID...] [flags]\n"));
  EXPECT_THAT(run.out, AllOf(HasSubstr("--dry-run"), HasSubstr("--yes"),
                             HasSubstr("--all"), HasSubstr("--older-than"),
                             HasSubstr("not both")));
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("--site")));
  run = RunArgs({"flush", "--help"});
  EXPECT_THAT(run.out, HasSubstr("--site DOMAIN"));
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("--dry-run")));
  run = RunArgs({"watch", "--help"});
  EXPECT_EQ(run.exit_code, kExitOk);
  EXPECT_THAT(run.out, StartsWith("usage: mailfleet --agent ADDR|--controller "
                                  "ADDR [global flags] watch [flags]\n"));
  EXPECT_THAT(run.out,
              AllOf(HasSubstr("--messages"), HasSubstr("--heartbeat DUR"),
                    HasSubstr("--events N"), HasSubstr("--top N"),
                    HasSubstr("--older-than"), HasSubstr("-o json")));
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("--limit")));
  run = RunArgs({"--help"});
  EXPECT_THAT(run.out, HasSubstr("\n  watch "));
  // Every line of the help fits a terminal.
  run = RunArgs({"--help"});
  for (absl::string_view line : absl::StrSplit(run.out, '\n')) {
    EXPECT_LE(line.size(), 79u) << line;
  }
}

}  // namespace
}  // namespace mailfleet::cli
