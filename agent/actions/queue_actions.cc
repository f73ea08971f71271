#include "agent/actions/queue_actions.h"

#include <sys/stat.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/queue_id.h"
#include "common/status_macros.h"

namespace mailfleet {

using postfix::QueueAction;

QueueActions::QueueActions(QueueIndex* index, const postfix::PostfixTools* tools,
                           Filesystem* fs)
    : index_(index), tools_(tools), fs_(fs) {}

bool QueueActions::Applies(QueueAction action, QueueKind queue) {
  switch (action) {
    case QueueAction::kHold:
      return queue == QueueKind::kIncoming || queue == QueueKind::kActive ||
             queue == QueueKind::kDeferred;
    case QueueAction::kRelease:
      return queue == QueueKind::kHold;
    case QueueAction::kDelete:
      return queue != QueueKind::kCorrupt && queue != QueueKind::kUnknown;
    case QueueAction::kRequeue:
    case QueueAction::kExpire:
      return queue == QueueKind::kIncoming || queue == QueueKind::kActive ||
             queue == QueueKind::kDeferred || queue == QueueKind::kHold;
  }
  return false;
}

absl::StatusOr<ActionResult> QueueActions::Act(const ActionRequest& request) const {
  const bool by_ids = !request.queue_ids.empty();
  if (by_ids && request.filter) {
    return absl::InvalidArgumentError("give queue ids or a filter, not both");
  }
  if (!by_ids && !request.filter && !request.all) {
    return absl::InvalidArgumentError(
        "nothing selected: give queue ids, a filter, or all");
  }
  if (request.queue_ids.size() > kMaxIdsPerAction) {
    return absl::InvalidArgumentError(absl::StrCat(
        request.queue_ids.size(), " queue ids in one request; the limit is ",
        kMaxIdsPerAction));
  }
  ActionResult result;
  if (by_ids) {
    absl::flat_hash_set<std::string> seen;
    for (const std::string& id : request.queue_ids) {
      MF_RETURN_IF_ERROR(ValidatePostfixQueueId(id));
      if (seen.insert(id).second) result.queue_ids.push_back(id);
    }
  } else {
    const Filter filter = request.filter ? *request.filter : Filter();
    if (filter.SelectsEverything() && !request.all) {
      return absl::InvalidArgumentError(
          "the filter selects every message: set all to act on the whole queue");
    }
    auto snapshot = index_->Current();
    size_t matches_filter = 0;
    snapshot->List(filter, absl::Now(), nullptr, snapshot->size(),
                   [&](const QueueSnapshot::View& v) {
                     ++matches_filter;
                     if (Applies(request.action, v.queue_kind())) {
                       result.queue_ids.emplace_back(v.id());
                     }
                   });
    // A pattern like "." selects everything as surely as no filter at all.
    if (!request.all && matches_filter > 0 && matches_filter == snapshot->size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the filter matches every message in the queue (", matches_filter,
          "): set all to act on the whole queue"));
    }
  }
  result.matched = result.queue_ids.size();
  if (request.dry_run || result.queue_ids.empty()) return result;

  MF_ASSIGN_OR_RETURN(postfix::ActionOutcome outcome,
                      tools_->Apply(request.action, result.queue_ids));
  index_->ApplyUpdates(StateAfter(request.action, outcome.succeeded));
  result.queue_ids = std::move(outcome.succeeded);
  result.failures = std::move(outcome.failed);
  return result;
}

std::vector<QueueSnapshot::EntryUpdate> QueueActions::StateAfter(
    QueueAction action, const std::vector<std::string>& ids) const {
  // Where postsuper put each message; its file says the rest (a deferred
  // file's mtime is its next attempt, the group execute bit a forced
  // expiry). A file not where expected has moved on: the live index reads
  // it wherever its directory says it went.
  const postfix::QueueReader& reader = index_->reader();
  auto snapshot = index_->Current();
  std::vector<QueueSnapshot::EntryUpdate> updates;
  updates.reserve(ids.size());
  for (const std::string& id : ids) {
    QueueSnapshot::EntryUpdate u;
    u.queue_id = id;
    std::optional<QueueKind> now;
    switch (action) {
      case QueueAction::kHold: now = QueueKind::kHold; break;
      case QueueAction::kRelease: now = QueueKind::kDeferred; break;
      case QueueAction::kExpire:
        if (auto v = snapshot->Find(id)) now = v->queue_kind();
        break;
      case QueueAction::kDelete:
      case QueueAction::kRequeue:
        break;  // gone (a requeued message returns under a new id)
    }
    if (now) {
      auto info = fs_->Stat(reader.MessagePath(*now, id));
      if (!info.ok()) continue;
      u.queue = *now;
      if (*now == QueueKind::kDeferred) u.next_attempt = info->mtime;
      u.forced_expire = (info->mode & S_IXGRP) != 0;
    }
    updates.push_back(std::move(u));
  }
  return updates;
}

}  // namespace mailfleet
