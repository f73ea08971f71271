#include "agent/actions/queue_actions.h"

#include <sys/stat.h>

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/mpa/spool_item.h"
#include "common/queue_id.h"
#include "common/status_macros.h"

namespace mailfleet {
namespace {

// The postsuper operation behind an action on Postfix's messages.
std::optional<postfix::QueueAction> PostfixActionOf(Action action) {
  switch (action) {
    case Action::kDelete: return postfix::QueueAction::kDelete;
    case Action::kHold: return postfix::QueueAction::kHold;
    case Action::kRelease: return postfix::QueueAction::kRelease;
    case Action::kRequeue: return postfix::QueueAction::kRequeue;
    case Action::kExpire: return postfix::QueueAction::kExpire;
    case Action::kRespool: break;
  }
  return std::nullopt;
}

bool ActsOnMpa(Action action) {
  return action == Action::kDelete || action == Action::kRespool;
}

bool Admits(const std::vector<QueueKind>& queues, QueueSource source) {
  if (queues.empty()) return true;
  for (QueueKind q : queues) {
    if (SourceOf(q) == source) return true;
  }
  return false;
}

bool Admits(const std::vector<QueueKind>& queues, QueueKind queue) {
  return queues.empty() ||
         std::find(queues.begin(), queues.end(), queue) != queues.end();
}

std::string QueueList(const std::vector<QueueKind>& queues) {
  std::string out;
  for (QueueKind q : queues) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", QueueKindName(q));
  }
  return out;
}

}  // namespace

QueueActions::QueueActions(QueueIndex* index, const postfix::PostfixTools* tools,
                           Filesystem* fs, mpa::SpoolActions* spool)
    : index_(index), tools_(tools), fs_(fs), spool_(spool) {}

bool QueueActions::Applies(Action action, QueueKind queue) {
  const bool mta_live = queue == QueueKind::kIncoming ||
                        queue == QueueKind::kActive || queue == QueueKind::kDeferred;
  switch (action) {
    case Action::kHold:
      return mta_live;
    case Action::kRelease:
      return queue == QueueKind::kHold;
    case Action::kDelete:
      // The MPA is working on mpa-spool items and handing mpa-outgoing ones
      // to Postfix: only what it gave up on, or was given back, is the
      // operator's to delete.
      if (SourceOf(queue) == QueueSource::kMpa) {
        return queue == QueueKind::kMpaError || queue == QueueKind::kMpaRespool;
      }
      return queue != QueueKind::kCorrupt && queue != QueueKind::kUnknown;
    case Action::kRequeue:
    case Action::kExpire:
      return mta_live || queue == QueueKind::kHold;
    case Action::kRespool:
      return queue == QueueKind::kMpaError;
  }
  return false;
}

std::optional<QueueKind> QueueActions::FindMpaItem(Action action,
                                                   absl::string_view id) const {
  const mpa::SpoolReader* reader = index_->spool();
  for (QueueKind q : {QueueKind::kMpaError, QueueKind::kMpaRespool}) {
    if (!Applies(action, q)) continue;
    auto info = fs_->Stat(reader->ItemPath(q, id, ".eml"));
    if (info.ok()) return q;
  }
  return std::nullopt;
}

absl::Status QueueActions::ResolveIds(
    const ActionRequest& request, std::vector<Target>& targets,
    std::vector<postfix::ActionFailure>& failures) const {
  const bool mpa_capable = ActsOnMpa(request.action) && spool_ != nullptr &&
                           Admits(request.id_queues, QueueSource::kMpa);
  const bool postfix_capable = PostfixActionOf(request.action).has_value() &&
                               Admits(request.id_queues, QueueSource::kPostfix);
  if (!mpa_capable && !postfix_capable) {
    if (request.action == Action::kRespool && spool_ == nullptr) {
      return absl::FailedPreconditionError(
          "this agent has no MPA spool (--mpa-spool) to respool from");
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "the queues given (", QueueList(request.id_queues),
        ") hold nothing this action applies to"));
  }
  auto snapshot = index_->Current();
  absl::flat_hash_set<std::string> seen;
  for (const std::string& id : request.queue_ids) {
    // Every id is checked against the syntax of the side it is meant for
    // before it goes anywhere near a path or a command.
    absl::Status postfix_syntax =
        postfix_capable ? ValidatePostfixQueueId(id)
                        : absl::InvalidArgumentError("not a Postfix action");
    absl::Status mpa_syntax = mpa_capable ? mpa::ValidateSpoolId(id)
                                          : absl::InvalidArgumentError("");
    if (!postfix_syntax.ok() && !mpa_syntax.ok()) {
      if (!postfix_capable) return mpa_syntax;
      if (!mpa_capable) return postfix_syntax;
      return absl::InvalidArgumentError(
          absl::StrCat("neither a Postfix queue id (", postfix_syntax.message(),
                       ") nor an MPA item id (", mpa_syntax.message(), ")"));
    }
    if (!seen.insert(id).second) continue;
    std::optional<QueueSnapshot::View> in_postfix, in_mpa;
    if (postfix_syntax.ok()) in_postfix = snapshot->Find(QueueSource::kPostfix, id);
    if (mpa_syntax.ok()) in_mpa = snapshot->Find(QueueSource::kMpa, id);
    if (in_postfix && in_mpa) {
      failures.push_back(
          {id, NamesBothSides(in_postfix->queue_kind(), in_mpa->queue_kind())});
      continue;
    }
    std::optional<QueueKind> mpa_queue;
    if (in_mpa) {
      mpa_queue = in_mpa->queue_kind();
    } else if (mpa_syntax.ok() && !in_postfix) {
      // Not indexed yet (it appeared a moment ago), or not there at all.
      mpa_queue = FindMpaItem(request.action, id);
    }
    if (mpa_queue && (!postfix_syntax.ok() || !in_postfix)) {
      if (!Admits(request.id_queues, *mpa_queue)) {
        failures.push_back({id, absl::StrCat("is in ", QueueKindName(*mpa_queue),
                                             ", not in ", QueueList(request.id_queues))});
      } else if (!Applies(request.action, *mpa_queue)) {
        failures.push_back(
            {id, absl::StrCat("is in ", QueueKindName(*mpa_queue),
                              request.action == Action::kRespool
                                  ? ": only mpa-error items can be respooled"
                                  : ": only mpa-error and mpa-respool items can be "
                                    "deleted (the MPA is working on the others)")});
      } else {
        targets.push_back({QueueSource::kMpa, id, *mpa_queue});
      }
      continue;
    }
    if (!postfix_syntax.ok()) {
      failures.push_back({id, request.action == Action::kRespool
                                  ? "no such MPA item in mpa-error"
                                  : "no such MPA item in mpa-error or mpa-respool"});
      continue;
    }
    if (in_postfix && !Admits(request.id_queues, in_postfix->queue_kind())) {
      failures.push_back({id, absl::StrCat("is in ", QueueKindName(in_postfix->queue_kind()),
                                           ", not in ", QueueList(request.id_queues))});
      continue;
    }
    std::optional<QueueKind> postfix_queue;
    if (in_postfix) postfix_queue = in_postfix->queue_kind();
    if (!in_postfix && !request.id_queues.empty()) {
      // Not indexed yet: the queues asked for must hold it, or it would be
      // acted on wherever postsuper finds it.
      postfix_queue = FindPostfixMessage(request.id_queues, id);
      if (!postfix_queue) {
        failures.push_back(
            {id, absl::StrCat("no such message in ", QueueList(request.id_queues))});
        continue;
      }
    }
    // Not indexed is no proof of absence: postsuper has the last word.
    targets.push_back(
        {QueueSource::kPostfix, id, postfix_queue.value_or(QueueKind::kUnknown)});
  }
  return absl::OkStatus();
}

std::optional<QueueKind> QueueActions::FindPostfixMessage(
    const std::vector<QueueKind>& queues, absl::string_view id) const {
  for (QueueKind q : queues) {
    if (SourceOf(q) != QueueSource::kPostfix) continue;
    if (fs_->Stat(index_->reader().MessagePath(q, id)).ok()) return q;
  }
  return std::nullopt;
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
  std::vector<Target> targets;
  if (by_ids) {
    MF_RETURN_IF_ERROR(ResolveIds(request, targets, result.failures));
  } else {
    if (request.action == Action::kRespool && spool_ == nullptr) {
      return absl::FailedPreconditionError(
          "this agent has no MPA spool (--mpa-spool) to respool from");
    }
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
                     if (!Applies(request.action, v.queue_kind())) return;
                     if (v.source() == QueueSource::kMpa && spool_ == nullptr) return;
                     targets.push_back(
                         {v.source(), std::string(v.id()), v.queue_kind()});
                   });
    // A pattern like "." selects everything as surely as no filter at all.
    if (!request.all && matches_filter > 0 && matches_filter == snapshot->size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the filter matches every message in the queue (", matches_filter,
          "): set all to act on the whole queue"));
    }
  }
  result.matched = targets.size() + result.failures.size();
  std::vector<std::string> postfix_ids;
  std::vector<Target> mpa_items;
  // Where each Postfix id was selected, for the result (postsuper answers
  // by id only).
  absl::flat_hash_map<std::string, QueueKind> postfix_queues;
  for (Target& t : targets) {
    if (request.dry_run) {
      result.queue_ids.push_back(t.id);
      result.queues.push_back(t.queue);
    }
    if (t.source == QueueSource::kPostfix) {
      postfix_queues[t.id] = t.queue;
      postfix_ids.push_back(std::move(t.id));
    } else {
      mpa_items.push_back(std::move(t));
    }
  }
  if (request.dry_run) return result;
  if (!mpa_items.empty()) ActOnMpa(request.action, mpa_items, result);
  if (!postfix_ids.empty()) {
    absl::Status ran = ActOnPostfix(request.action, postfix_ids, postfix_queues, result);
    if (!ran.ok()) {
      if (mpa_items.empty()) return ran;
      // The MPA items were acted on: report them, and every Postfix id as
      // failed.
      for (const std::string& id : postfix_ids) {
        result.failures.push_back({id, std::string(ran.message())});
      }
    }
  }
  return result;
}

absl::Status QueueActions::ActOnPostfix(
    Action action, const std::vector<std::string>& ids,
    const absl::flat_hash_map<std::string, QueueKind>& selected_in,
    ActionResult& result) const {
  const postfix::QueueAction op = *PostfixActionOf(action);
  MF_ASSIGN_OR_RETURN(postfix::ActionOutcome outcome, tools_->Apply(op, ids));
  index_->ApplyUpdates(StateAfter(op, outcome.succeeded));
  for (std::string& id : outcome.succeeded) {
    auto it = selected_in.find(id);
    result.queues.push_back(it != selected_in.end() ? it->second : QueueKind::kUnknown);
    result.queue_ids.push_back(std::move(id));
  }
  for (auto& f : outcome.failed) result.failures.push_back(std::move(f));
  return absl::OkStatus();
}

void QueueActions::ActOnMpa(Action action, const std::vector<Target>& items,
                            ActionResult& result) const {
  std::vector<RefreshTarget> done;
  for (const Target& t : items) {
    absl::Status s = action == Action::kRespool ? spool_->Respool(t.queue, t.id)
                                                : spool_->Delete(t.queue, t.id);
    if (!s.ok()) {
      result.failures.push_back({t.id, std::string(s.message())});
      continue;
    }
    done.push_back({t.id, QueueKind::kMpaRespool, QueueSource::kMpa});
    result.queue_ids.push_back(t.id);
    result.queues.push_back(t.queue);
  }
  // Read back, not assumed: the MPA may already have taken a respooled
  // item on to mpa-spool, and publishing "in mpa-respool" after that would
  // undo what the monitor saw.
  if (!done.empty()) index_->Refresh(done);
}

std::vector<QueueSnapshot::EntryUpdate> QueueActions::StateAfter(
    postfix::QueueAction action, const std::vector<std::string>& ids) const {
  // Where postsuper put each message; its file says the rest (a deferred
  // file's mtime is its next attempt, the group execute bit a forced
  // expiry). A file not where expected has moved on: the live index reads
  // it wherever its directory says it went.
  using postfix::QueueAction;
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
        if (auto v = snapshot->Find(QueueSource::kPostfix, id)) now = v->queue_kind();
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
