// Translation between the wire types of mailfleet.v1 and the core types.
// Every check of a request's content happens here or in the core, with
// INVALID_ARGUMENT and the reason.
#ifndef MAILFLEET_AGENT_SERVICE_PROTO_CONVERT_H_
#define MAILFLEET_AGENT_SERVICE_PROTO_CONVERT_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/actions/queue_actions.h"
#include "agent/index/queue_snapshot.h"
#include "common/filter.h"
#include "common/message.h"
#include "common/request_checks.h"
#include "mailfleet/v1/agent.pb.h"
#include "mailfleet/v1/types.pb.h"
#include "proto/time_proto.h"

namespace mailfleet {

v1::QueueKind ToProto(QueueKind kind);
absl::StatusOr<QueueKind> FromProto(v1::QueueKind kind);

void ToProto(const QueueSnapshot::View& view, v1::Message* out);
void ToProto(const Message& m, v1::Message* out);
void ToProto(const QueueSummary& summary, absl::Time now, v1::QueueSummary* out);
void ToProto(const mpa::Throttle& throttle, v1::MpaThrottle* out);
// What a watcher holding `was` needs to hold `is`: the queues that changed
// (an emptied queue with zero counts), the top lists when they changed, and
// the totals. False, with `out` untouched, when nothing changed.
bool ToProtoUpdate(const QueueSummary& was, const QueueSummary& is,
                   v1::SummaryUpdate* out);

// Checks the request (action known, ids well-formed, filter valid); the
// selection rules are QueueActions'.
absl::StatusOr<ActionRequest> ActionRequestFromProto(const v1::ActRequest& request);
void ToProto(const ActionResult& result, const v1::ActRequest& request,
             v1::ActResponse* out);

// `text` with every byte that is not part of well-formed UTF-8 replaced by
// '?': protobuf strings must be UTF-8, queue files' text need not be.
void SetText(absl::string_view text, std::string* out);

}  // namespace mailfleet

#endif  // MAILFLEET_AGENT_SERVICE_PROTO_CONVERT_H_
