// Carries out an action on a selection of messages: resolves the selection
// (explicit queue IDs, or a filter over the index), checks it, runs
// Postfix's postsuper through PostfixTools, and publishes the new state of
// every message acted on to the index. Knows nothing of gRPC.
//
// Thread-safe.
#ifndef MAILFLEET_AGENT_ACTIONS_QUEUE_ACTIONS_H_
#define MAILFLEET_AGENT_ACTIONS_QUEUE_ACTIONS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/index/queue_index.h"
#include "agent/postfix/postfix_tools.h"
#include "common/filter.h"
#include "common/os/filesystem.h"

namespace mailfleet {

// Most queue IDs one request may name; more is refused, not trimmed.
inline constexpr size_t kMaxIdsPerAction = 100000;

struct ActionRequest {
  postfix::QueueAction action = postfix::QueueAction::kHold;
  std::vector<std::string> queue_ids;  // or
  std::optional<Filter> filter;
  bool all = false;  // required when the filter selects every message
  bool dry_run = false;
};

struct ActionResult {
  // Dry run: every selected id. Otherwise: the ids acted on.
  std::vector<std::string> queue_ids;
  size_t matched = 0;
  std::vector<postfix::ActionFailure> failures;
};

class QueueActions {
 public:
  // All must outlive this object.
  QueueActions(QueueIndex* index, const postfix::PostfixTools* tools,
               Filesystem* fs);

  // INVALID_ARGUMENT, with nothing run, for a malformed id, ids and a
  // filter together, nothing selected, a filter that is empty or matches
  // every message in the queue without `all`, or too many ids.
  absl::StatusOr<ActionResult> Act(const ActionRequest& request) const;

 private:
  // Where `action` finds the messages it applies to; a filter selects only
  // from these (a hold leaves held mail alone instead of failing on it).
  static bool Applies(postfix::QueueAction action, QueueKind queue);
  std::vector<QueueSnapshot::EntryUpdate> StateAfter(
      postfix::QueueAction action, const std::vector<std::string>& ids) const;

  QueueIndex* index_;
  const postfix::PostfixTools* tools_;
  Filesystem* fs_;
};

}  // namespace mailfleet

#endif  // MAILFLEET_AGENT_ACTIONS_QUEUE_ACTIONS_H_
