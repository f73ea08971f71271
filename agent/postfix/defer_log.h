// Postfix's defer logfiles (defer/ID): why delivery to each recipient was
// deferred. Text, one entry per recipient, entries separated by blank lines,
// each line "name = value" (recipient, original_recipient, reason, ...), or
// an old-style "<address>: reason" line.
#ifndef MAILFLEET_AGENT_POSTFIX_DEFER_LOG_H_
#define MAILFLEET_AGENT_POSTFIX_DEFER_LOG_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace mailfleet::postfix {

struct DeferEntry {
  std::string address;  // as Postfix wrote it: already in quoted form
  std::string orig_address;
  std::string reason;
};

// Parses a logfile the way Postfix's bounce_log_read() does, so that the
// agent reports what `postqueue` reports: lines made printable first, an
// entry counts only once a blank line ends it, and missing fields get
// Postfix's placeholders ("(description unavailable)").
std::vector<DeferEntry> ParseDeferLog(absl::string_view text, bool utf8);

}  // namespace mailfleet::postfix

#endif  // MAILFLEET_AGENT_POSTFIX_DEFER_LOG_H_
