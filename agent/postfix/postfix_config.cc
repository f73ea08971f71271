#include "agent/postfix/postfix_config.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mailfleet::postfix {
namespace {

// The order here is the order of postconf's output lines.
constexpr const char* kParameters[] = {
    "queue_directory",        "hash_queue_names",
    "hash_queue_depth",       "empty_address_recipient",
    "smtputf8_enable",        "duplicate_filter_limit",
    "mail_version",
};

}  // namespace

bool PostfixConfig::IsHashed(absl::string_view queue) const {
  for (const auto& q : hashed_queues) {
    if (absl::EqualsIgnoreCase(q, queue)) return true;
  }
  return false;
}

absl::StatusOr<PostfixConfig> ParsePostconfOutput(const std::string& config_dir,
                                                  absl::string_view output) {
  std::vector<std::string> lines = absl::StrSplit(output, '\n');
  constexpr size_t kCount = sizeof(kParameters) / sizeof(kParameters[0]);
  if (lines.size() < kCount) {
    return absl::FailedPreconditionError(absl::StrCat(
        "postconf -c ", config_dir, " answered ", lines.size(),
        " lines, expected ", kCount));
  }
  PostfixConfig c;
  c.config_directory = config_dir;
  c.queue_directory = std::string(absl::StripAsciiWhitespace(lines[0]));
  if (c.queue_directory.empty() || c.queue_directory[0] != '/') {
    return absl::FailedPreconditionError(absl::StrCat(
        "queue_directory of ", config_dir, " is not an absolute path: '",
        c.queue_directory, "'"));
  }
  c.hashed_queues.clear();
  for (absl::string_view q :
       absl::StrSplit(lines[1], absl::ByAnyChar(", \t"), absl::SkipEmpty())) {
    c.hashed_queues.push_back(absl::AsciiStrToLower(q));
  }
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(lines[2]),
                        &c.hash_queue_depth) ||
      c.hash_queue_depth < 1 || c.hash_queue_depth > 16) {
    return absl::FailedPreconditionError(absl::StrCat(
        "hash_queue_depth of ", config_dir, " is not a small positive number: '",
        lines[2], "'"));
  }
  c.empty_address_recipient = std::string(absl::StripAsciiWhitespace(lines[3]));
  c.utf8 = absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(lines[4]), "yes");
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(lines[5]),
                        &c.duplicate_filter_limit)) {
    c.duplicate_filter_limit = 1000;
  }
  c.mail_version = std::string(absl::StripAsciiWhitespace(lines[6]));
  return c;
}

absl::StatusOr<PostfixConfig> LoadPostfixConfig(ProcessRunner& runner,
                                                const std::string& config_dir) {
  // -x expands $name references, as Postfix's own programs see the values.
  std::vector<std::string> argv = {"postconf", "-c", config_dir, "-h", "-x"};
  for (const char* p : kParameters) argv.push_back(p);
  ProcessOptions options;
  options.timeout = absl::Seconds(20);
  auto result = runner.Run(argv, options);
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    std::string err(absl::StripAsciiWhitespace(result->stderr_text));
    return absl::FailedPreconditionError(absl::StrCat(
        "postconf -c ", config_dir, " failed (exit ", result->exit_code,
        "): ", err.substr(0, err.find('\n'))));
  }
  return ParsePostconfOutput(config_dir, result->stdout_text);
}

}  // namespace mailfleet::postfix
