// Operator actions on single MPA spool items: respool (mpa-error ->
// mpa-respool, for the MPA to process again) and delete. An item is two
// files, <id>.env and <id>.eml, and exists where its .eml is; each action
// orders its steps so that this stays true at every instant: the MPA, which
// picks items up from respool, never finds one without its envelope, and no
// move ever replaces a file already there. Knows nothing of gRPC; the
// caller finds the queue each id is in (the index) and passes it.
//
// Ids are validated before any path is built from them. Thread-safe:
// actions are serialized, so that two on one item cannot interleave their
// steps (a delete between a respool's two renames would strand the
// envelope).
#ifndef MAILFLEET_AGENT_MPA_SPOOL_ACTIONS_H_
#define MAILFLEET_AGENT_MPA_SPOOL_ACTIONS_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/os/filesystem.h"
#include "common/queue_kind.h"

namespace mailfleet::mpa {

class SpoolActions {
 public:
  // `fs` must outlive this object; `root` is the spool root, as the
  // SpoolReader's.
  SpoolActions(Filesystem* fs, std::string root);

  // Moves item `id` from `from`, which must be mpa-error, to mpa-respool:
  // links its .env into respool, renames its .eml there (which makes the
  // item exist in respool and end in error at one instant), then removes
  // the old .env. INVALID_ARGUMENT for a malformed id; FAILED_PRECONDITION
  // from another queue, for an item without .env (respool/ is the MPA's
  // input: it must never find an item there without its envelope) or a
  // queue directory missing or not a directory; NOT_FOUND if mpa-error
  // holds no such item;
  // ALREADY_EXISTS if mpa-respool already holds its .eml or .env. In all
  // these nothing moves. Should the .eml not move, the envelope's copy is
  // removed again, and the error says so if that failed too.
  absl::Status Respool(QueueKind from, absl::string_view id);

  // Removes item `id` from `from`, which must be mpa-error or mpa-respool
  // (the MPA is working on the others): its .eml first, which ends the item
  // at once, then its .env if any. INVALID_ARGUMENT for a malformed id;
  // FAILED_PRECONDITION from another queue; NOT_FOUND if there is no such
  // item. An error after the .eml went says the item is deleted.
  absl::Status Delete(QueueKind from, absl::string_view id);

 private:
  // SpoolItemPath under this spool's root; `id` must be valid.
  std::string ItemPath(QueueKind queue, absl::string_view id,
                       absl::string_view ext) const;
  // OK if `queue` holds item `id` the way SpoolReader lists items (a
  // regular .eml); NOT_FOUND naming the item otherwise.
  absl::Status CheckItemExists(QueueKind queue, absl::string_view id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // FAILED_PRECONDITION unless `queue`'s directory is a directory (not a
  // symlink).
  absl::Status CheckQueueDirectory(QueueKind queue) const;

  Filesystem* const fs_;
  const std::string root_;
  absl::Mutex mu_;
};

}  // namespace mailfleet::mpa

#endif  // MAILFLEET_AGENT_MPA_SPOOL_ACTIONS_H_
