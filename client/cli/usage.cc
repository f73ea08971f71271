#include "client/cli/usage.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace mailfleet::cli {
namespace {

constexpr size_t kLineWidth = 79;

constexpr FlagGroup kGroups[] = {kGlobalFlags,  kGatewayFlags, kFilterFlags,
                                 kListFlags,    kShowFlags,    kSummaryFlags,
                                 kActionFlags,  kFlushFlags,   kWatchFlags};

std::string FlagTitle(const FlagSpec& flag) {
  std::string title = "  ";
  if (!flag.short_name.empty()) absl::StrAppend(&title, flag.short_name, ", ");
  absl::StrAppend(&title, flag.name);
  if (!flag.value_name.empty()) absl::StrAppend(&title, " ", flag.value_name);
  return title;
}

// `text` word-wrapped into the column starting at `indent`, after `title`.
void AppendWrapped(const std::string& title, absl::string_view text,
                   size_t indent, std::string* out) {
  std::string line = title;
  line.append(indent > line.size() ? indent - line.size() : 1, ' ');
  bool line_has_words = false;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (line_has_words && line.size() + 1 + word.size() > kLineWidth) {
      absl::StrAppend(out, line, "\n");
      line.assign(indent, ' ');
      line_has_words = false;
    }
    if (line_has_words) line.push_back(' ');
    absl::StrAppend(&line, word);
    line_has_words = true;
  }
  absl::StrAppend(out, line, "\n");
}

std::string GroupTitle(FlagGroup group) {
  if (group == kGlobalFlags) return "global flags:";
  if (group == kGatewayFlags) {
    return "gateway selection (with --controller; one kind at a time):";
  }
  std::vector<absl::string_view> users;
  bool actions = false;
  for (const Command& command : AllCommands()) {
    if (!(command.flag_groups & group)) continue;
    // Listed one by one, the actions would not fit on a line.
    if (group != kActionFlags && (command.flag_groups & kActionFlags)) {
      if (!actions) users.push_back("the actions");
      actions = true;
      continue;
    }
    users.push_back(command.name);
  }
  return absl::StrCat(group == kFilterFlags ? "filter flags" : "flags", " (",
                      absl::StrJoin(users, ", "), "):");
}

void AppendFlags(uint32_t groups, std::string* out) {
  size_t indent = 0;
  for (const FlagSpec& flag : AllFlags()) {
    if (groups & flag.group) indent = std::max(indent, FlagTitle(flag).size());
  }
  indent += 2;
  // A flag of several groups is listed once, under the first of them.
  auto first_group = [&](uint32_t flag_groups) {
    for (FlagGroup g : kGroups) {
      if (flag_groups & groups & g) return g;
    }
    return kGlobalFlags;
  };
  for (FlagGroup group : kGroups) {
    if (!(groups & group)) continue;
    absl::StrAppend(out, "\n", GroupTitle(group), "\n");
    for (const FlagSpec& flag : AllFlags()) {
      if ((flag.group & group) && first_group(flag.group) == group) {
        AppendWrapped(FlagTitle(flag), flag.help, indent, out);
      }
    }
  }
}

std::string CommandTitle(const Command& command) {
  std::string title = absl::StrCat("  ", command.name);
  if (!command.args_usage.empty())
    absl::StrAppend(&title, " ", command.args_usage);
  return title;
}

}  // namespace

std::string UsageText(const Command* command) {
  std::string text;
  if (command != nullptr) {
    absl::StrAppend(&text,
                    "usage: mailfleet --agent ADDR|--controller ADDR [global "
                    "flags] ",
                    command->name);
    if (!command->args_usage.empty()) {
      absl::StrAppend(&text, " ", command->args_usage);
    }
    absl::StrAppend(&text, " [flags]\n\n", command->help, "\n");
    if (!command->details.empty()) {
      text.push_back('\n');
      AppendWrapped("", command->details, 2, &text);
    }
    AppendFlags(kGlobalFlags | command->flag_groups, &text);
    return text;
  }
  absl::StrAppend(&text,
                  "usage: mailfleet --agent ADDR|--controller ADDR "
                  "[-o table|wide|json]\n"
                  "                 COMMAND [ARGS] [FLAGS]\n\n");
  AppendWrapped("",
                "Flags may come before or after the command. With --agent, a "
                "command asks one gateway's agent; with --controller, the "
                "gateways the controller watches (all of them, or those "
                "selected with -g, -l or --all-gateways).",
                2, &text);
  text.append("\ncommands:\n");
  size_t indent = 0;
  for (const Command& c : AllCommands()) {
    indent = std::max(indent, CommandTitle(c).size());
  }
  for (const Command& c : AllCommands()) {
    AppendWrapped(CommandTitle(c), c.help, indent + 2, &text);
  }
  text.push_back('\n');
  AppendWrapped("",
                "hold, release, requeue, delete, expire and respool take "
                "queue IDs or filter flags, not both (--queue may go with "
                "IDs: where to look for them); --all is needed to act on "
                "every message. A selection by filter is counted first and "
                "confirmed at the terminal, or needs --yes. Through the "
                "controller, actions and flush need a gateway selection and "
                "print a row per gateway as each finishes. Exit status: 0 "
                "done, 1 failed (through the controller: also when any "
                "gateway failed), 2 usage. See mailfleet hold --help.",
                2, &text);
  uint32_t all_groups = 0;
  for (FlagGroup group : kGroups) all_groups |= group;
  AppendFlags(all_groups, &text);
  return text;
}

}  // namespace mailfleet::cli
