// Carries out an action on a selection of messages: resolves the selection
// (explicit ids, or a filter over the index), checks it, runs Postfix's
// postsuper through PostfixTools for Postfix's messages and SpoolActions
// for the MPA's items, and publishes the new state of every message acted
// on to the index. Knows nothing of gRPC.
//
// Thread-safe.
#ifndef MAILFLEET_AGENT_ACTIONS_QUEUE_ACTIONS_H_
#define MAILFLEET_AGENT_ACTIONS_QUEUE_ACTIONS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "agent/index/queue_index.h"
#include "agent/mpa/spool_actions.h"
#include "agent/postfix/postfix_tools.h"
#include "common/filter.h"
#include "common/request_checks.h"
#include "common/os/filesystem.h"

namespace mailfleet {

// Most ids one request may name; more is refused, not trimmed.
inline constexpr size_t kMaxIdsPerAction = kMaxActIds;

enum class Action {
  kDelete,   // Postfix: postsuper -d; MPA: mpa-error and mpa-respool items
  kHold,     // Postfix only, as are release, requeue and expire
  kRelease,
  kRequeue,
  kExpire,
  kRespool,  // MPA only: mpa-error to mpa-respool
};

struct ActionRequest {
  Action action = Action::kHold;
  std::vector<std::string> queue_ids;  // or
  std::optional<Filter> filter;
  // With queue_ids: the queues to look for them in (all when empty); this
  // settles an id that names both a Postfix message and an MPA item.
  std::vector<QueueKind> id_queues;
  bool all = false;  // required when the filter selects every message
  bool dry_run = false;
};

struct ActionResult {
  // Dry run: every selected id. Otherwise: the ids acted on.
  std::vector<std::string> queue_ids;
  // Parallel to queue_ids: the queue each was selected in (which also says
  // whether it is a Postfix message or an MPA item); kUnknown for a Postfix
  // id that was not indexed.
  std::vector<QueueKind> queues;
  size_t matched = 0;
  std::vector<postfix::ActionFailure> failures;
};

class QueueActions {
 public:
  // All must outlive this object. `spool` is null when the agent has no
  // MPA spool.
  QueueActions(QueueIndex* index, const postfix::PostfixTools* tools,
               Filesystem* fs, mpa::SpoolActions* spool = nullptr);

  // INVALID_ARGUMENT, with nothing run, for a malformed id, ids and a
  // filter together, nothing selected, a filter that is empty or matches
  // every message in the queue without `all`, or too many ids. A message
  // the action does not apply to, or that fails, is a failure row.
  absl::StatusOr<ActionResult> Act(const ActionRequest& request) const;

 private:
  // One message to act on.
  struct Target {
    QueueSource source;
    std::string id;
    QueueKind queue;  // MPA: where the item is; Postfix: kUnknown
  };
  // Where `action` finds the messages it applies to; a filter selects only
  // from these (a hold leaves held mail alone instead of failing on it).
  static bool Applies(Action action, QueueKind queue);
  // The targets that explicit ids name; INVALID_ARGUMENT for an id valid in
  // no id space the action can act on.
  absl::Status ResolveIds(const ActionRequest& request, std::vector<Target>& targets,
                          std::vector<postfix::ActionFailure>& failures) const;
  // Where an MPA item not (yet) in the index is, among the queues `action`
  // takes items from.
  std::optional<QueueKind> FindMpaItem(Action action, absl::string_view id) const;
  // Where a Postfix message not (yet) in the index is, among `queues`.
  std::optional<QueueKind> FindPostfixMessage(const std::vector<QueueKind>& queues,
                                              absl::string_view id) const;
  // Fails, with nothing recorded, when postsuper could not be run.
  absl::Status ActOnPostfix(Action action, const std::vector<std::string>& ids,
                            const absl::flat_hash_map<std::string, QueueKind>& selected_in,
                            ActionResult& result) const;
  void ActOnMpa(Action action, const std::vector<Target>& items,
                ActionResult& result) const;
  std::vector<QueueSnapshot::EntryUpdate> StateAfter(
      postfix::QueueAction action, const std::vector<std::string>& ids) const;

  QueueIndex* index_;
  const postfix::PostfixTools* tools_;
  Filesystem* fs_;
  mpa::SpoolActions* spool_;
};

}  // namespace mailfleet

#endif  // MAILFLEET_AGENT_ACTIONS_QUEUE_ACTIONS_H_
