// Checks of mailfleet.v1 requests that the agent and the controller both
// make, so that the controller refuses a fanned-out request for the reasons
// every agent would, before it calls any. Every failure is INVALID_ARGUMENT
// with the reason.
#ifndef MAILFLEET_COMMON_REQUEST_CHECKS_H_
#define MAILFLEET_COMMON_REQUEST_CHECKS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/filter.h"
#include "google/protobuf/duration.pb.h"
#include "mailfleet/v1/agent.pb.h"
#include "mailfleet/v1/types.pb.h"

namespace mailfleet {

// Top domains and delay reasons in a summary (Summary, Watch).
inline constexpr int kDefaultTopN = 10;
inline constexpr int kMaxTopN = 1000;
// Most queue ids one action may name; more is refused, not trimmed.
inline constexpr size_t kMaxActIds = 100000;
// Most ids one flush may name: each is a postqueue -i run of its own.
inline constexpr size_t kMaxFlushIds = 1000;

absl::StatusOr<FilterSpec> FilterSpecFromProto(const v1::Filter& filter);
absl::StatusOr<Filter> CompileFilter(const v1::Filter& filter);
// A request's duration field: well-formed and not negative; `what` names
// it in the error.
absl::StatusOr<absl::Duration> FromProto(const google::protobuf::Duration& d,
                                         absl::string_view what);
// A request's top_n: kDefaultTopN when 0, refused past kMaxTopN.
absl::StatusOr<size_t> TopNFromProto(int32_t top_n);

// Exactly one of all, queue ids (at most kMaxFlushIds) and a site.
absl::Status CheckFlushTargets(const v1::FlushRequest& request);

// What can be judged of an action without the queue: the action is known,
// the selection is ids (each valid for a side the action applies to, with
// at most a list of queues as filter), a valid filter, or `all`, and a
// filter that selects everything comes with `all`. An agent may still
// refuse it for what it holds (a pattern matching its whole queue, no MPA
// spool to respool from).
absl::Status CheckActRequest(const v1::ActRequest& request);

// For the audit log: the action's verb (hold, delete, ...) and what a
// selector asked for, in a line (ids listed up to a limit, then counted).
std::string ActionVerb(v1::Action action);
std::string SelectorText(const v1::Selector& selector);
std::string FlushTargetsText(const v1::FlushRequest& request);

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_REQUEST_CHECKS_H_
