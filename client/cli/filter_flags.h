// From filter flags (--queue, --match, --regex, --field, --older-than,
// --newer-than, --min-size, --max-size) to a v1::Filter, with errors that
// name the flag and say what was expected. Every query and, later, every
// action takes the same flags.
#ifndef MAILFLEET_CLIENT_CLI_FILTER_FLAGS_H_
#define MAILFLEET_CLIENT_CLI_FILTER_FLAGS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "mailfleet/v1/types.pb.h"
#include "proto/time_proto.h"

namespace mailfleet::cli {

// "deferred", "hold,mpa-error": adds each queue once.
absl::Status AddQueues(absl::string_view list, v1::Filter* filter);

// "sender", "recipient,reason": adds each field once. Names: queue-id,
// sender, recipient, reason, client.
absl::Status AddMatchFields(absl::string_view list, v1::Filter* filter);


// What no single flag can check: a pattern for --regex and --field, a
// valid RE2 pattern, bounds that leave room for a match.
absl::Status CheckFilter(const v1::Filter& filter);

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_FILTER_FLAGS_H_
