// The five postsuper actions in the operator's words: the verb each command
// is named after, its past tense, and an action's result as text.
#ifndef MAILFLEET_CLIENT_CLI_ACTION_TEXT_H_
#define MAILFLEET_CLIENT_CLI_ACTION_TEXT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "mailfleet/v1/agent.pb.h"

namespace mailfleet::cli {

// "hold", "release", "requeue", "delete", "expire"; "act on" otherwise.
absl::string_view ActionVerb(v1::Action action);

// "held", "released", "requeued", "deleted", "expired"; "acted on".
absl::string_view ActionPastTense(v1::Action action);

// "1 message", "123 messages".
std::string MessageCount(int64_t count);

// A real run: "hold: 120 matched, 118 done, 2 failed", then "  ID: reason"
// for each failure. A dry run: "would hold 3 messages:" and each selected
// id on a line of its own, indented. Ids and reasons come from the agent
// and are sanitized.
void AppendActResponseText(const v1::ActResponse& response, std::string* out);

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_ACTION_TEXT_H_
