#include "client/cli/act_batches.h"

#include <algorithm>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "client/cli/action_text.h"
#include "proto/queue_kind_proto.h"

namespace mailfleet::cli {
namespace {

void Merge(const v1::ActResponse& part, v1::ActResponse* sum) {
  sum->set_matched(sum->matched() + part.matched());
  sum->set_succeeded(sum->succeeded() + part.succeeded());
  sum->set_failed(sum->failed() + part.failed());
  sum->mutable_queue_ids()->MergeFrom(part.queue_ids());
  sum->mutable_failures()->MergeFrom(part.failures());
}

absl::Status ActOnIds(const ActCall& act, v1::Action action,
                      const std::vector<std::string>& ids,
                      const google::protobuf::RepeatedField<int>& queues,
                      bool dry_run, v1::ActResponse* sum, bool* answered) {
  // The agent counts a repeated id once per request; across batches only
  // this can.
  std::vector<std::string> unique;
  unique.reserve(ids.size());
  std::unordered_set<std::string> seen;
  for (const std::string& id : ids) {
    if (seen.insert(id).second) unique.push_back(id);
  }
  for (size_t begin = 0; begin < unique.size(); begin += kIdsPerRequest) {
    const size_t end = std::min(unique.size(), begin + kIdsPerRequest);
    v1::ActRequest request;
    request.set_action(action);
    request.set_dry_run(dry_run);
    if (!queues.empty()) {
      *request.mutable_selector()->mutable_filter()->mutable_queues() = queues;
    }
    for (size_t i = begin; i < end; ++i) {
      request.mutable_selector()->add_queue_ids(unique[i]);
    }
    absl::StatusOr<v1::ActResponse> part = act(request);
    if (!part.ok()) {
      if (begin == 0) return part.status();
      return absl::Status(
          part.status().code(),
          absl::StrCat(part.status().message(), " (stopped after ", begin,
                       " of ", unique.size(), " messages)"));
    }
    Merge(*part, sum);
    *answered = true;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ActOnGroups(const ActCall& act, v1::Action action,
                         const std::vector<IdGroup>& groups, bool dry_run,
                         v1::ActResponse* sum, bool* answered) {
  sum->set_action(action);
  sum->set_dry_run(dry_run);
  for (const IdGroup& group : groups) {
    if (group.ids.empty()) continue;
    absl::Status status =
        ActOnIds(act, action, group.ids, group.queues, dry_run, sum, answered);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

std::vector<IdGroup> GroupsOf(const v1::ActResponse& preview,
                              const v1::Filter& filter) {
  if (preview.queues_size() != preview.queue_ids_size()) {
    IdGroup all;
    all.ids.assign(preview.queue_ids().begin(), preview.queue_ids().end());
    all.queues = filter.queues();
    return {all};
  }
  IdGroup postfix, mpa;
  for (int q = v1::POSTFIX_MAILDROP; q <= v1::POSTFIX_CORRUPT; ++q) {
    postfix.queues.Add(q);
  }
  for (int q = v1::MPA_OUTGOING; q <= v1::MPA_RESPOOL; ++q) mpa.queues.Add(q);
  for (int i = 0; i < preview.queue_ids_size(); ++i) {
    IdGroup& side = ProtoQueueSource(preview.queues(i)) == QueueSource::kMpa
                        ? mpa
                        : postfix;
    side.ids.push_back(preview.queue_ids(i));
  }
  return {postfix, mpa};
}

absl::Status CheckPreview(const v1::ActResponse& preview,
                          absl::string_view who) {
  if (!preview.dry_run()) {
    return absl::InternalError(
        absl::StrCat(who, " acted although asked for a dry run"));
  }
  if (preview.matched() != preview.queue_ids_size()) {
    return absl::InternalError(
        absl::StrCat(who, " counted ", MessageCount(preview.matched()),
                     " but listed ", preview.queue_ids_size(),
                     " queue ids; nothing was done"));
  }
  return absl::OkStatus();
}

}  // namespace mailfleet::cli
