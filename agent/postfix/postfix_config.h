// Where a Postfix instance keeps its queue and how it names things there,
// asked of Postfix itself with `postconf -c DIR -h ...`.
#ifndef MAILFLEET_AGENT_POSTFIX_POSTFIX_CONFIG_H_
#define MAILFLEET_AGENT_POSTFIX_POSTFIX_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/os/process_runner.h"

namespace mailfleet::postfix {

struct PostfixConfig {
  std::string config_directory;
  std::string queue_directory;
  // Queues filed under hashed subdirectories (hash_queue_names), lower case.
  std::vector<std::string> hashed_queues = {"deferred", "defer"};
  int hash_queue_depth = 1;
  // What Postfix shows for the null sender (empty_address_recipient).
  std::string empty_address_recipient = "MAILER-DAEMON";
  // smtputf8_enable: whether UTF-8 survives Postfix's printable().
  bool utf8 = true;
  // duplicate_filter_limit: how many defer-log recipients showq remembers.
  int duplicate_filter_limit = 1000;
  std::string mail_version;

  bool IsHashed(absl::string_view queue) const;
};

// Runs `postconf -c config_dir -h -x` once for every parameter above.
absl::StatusOr<PostfixConfig> LoadPostfixConfig(ProcessRunner& runner,
                                                const std::string& config_dir);

// Parses postconf's answer (one value per line, in the order asked).
absl::StatusOr<PostfixConfig> ParsePostconfOutput(
    const std::string& config_dir, absl::string_view output);

}  // namespace mailfleet::postfix

#endif  // MAILFLEET_AGENT_POSTFIX_POSTFIX_CONFIG_H_
