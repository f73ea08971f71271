// Acting on explicit queue ids, whoever carries the request (the agent, or
// the controller for one gateway): each id once, in batches an agent
// accepts, split by side (Postfix or MPA) as a dry run counted them, and
// the answers added up.
#ifndef MAILFLEET_CLIENT_CLI_ACT_BATCHES_H_
#define MAILFLEET_CLIENT_CLI_ACT_BATCHES_H_

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mailfleet/v1/agent.pb.h"

namespace mailfleet::cli {

// Queue ids per Act request: well below the agent's limit (100,000) and
// its 4 MiB request size, so that any number of ids can be sent.
inline constexpr size_t kIdsPerRequest = 10000;

// One Act call, to wherever the ids are.
using ActCall =
    std::function<absl::StatusOr<v1::ActResponse>(const v1::ActRequest&)>;

// Ids and where to look for them (all queues when empty).
struct IdGroup {
  std::vector<std::string> ids;
  google::protobuf::RepeatedField<int> queues;
};

// Acts on every group's ids, each id once per group, a batch per request,
// and adds up the answers in `sum`. When a batch fails, `sum` still holds
// what the batches before it did, and `*answered` says whether there were
// any; the error says how far it got.
absl::Status ActOnGroups(const ActCall& act, v1::Action action,
                         const std::vector<IdGroup>& groups, bool dry_run,
                         v1::ActResponse* sum, bool* answered);

// The ids a dry run selected, by side: an id may name both a Postfix
// message and an MPA item, and the one counted is the one to act on. From
// an agent that does not say (no queues), the filter's queues go along.
std::vector<IdGroup> GroupsOf(const v1::ActResponse& preview,
                              const v1::Filter& filter);

// The dry run's answer is what the operator is asked about: it must be
// one, and list every message it counts. `who` names its sender in errors
// ("agent at ADDR").
absl::Status CheckPreview(const v1::ActResponse& preview,
                          absl::string_view who);

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_ACT_BATCHES_H_
