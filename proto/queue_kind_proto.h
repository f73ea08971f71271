// Between the core QueueKind (common/queue_kind.h, the names operators type)
// and the wire's mailfleet.v1.QueueKind, for every binary.
#ifndef MAILFLEET_PROTO_QUEUE_KIND_PROTO_H_
#define MAILFLEET_PROTO_QUEUE_KIND_PROTO_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/queue_kind.h"
#include "mailfleet/v1/types.pb.h"

namespace mailfleet {

v1::QueueKind QueueKindToProto(QueueKind kind);

// QueueKind::kUnknown for QUEUE_KIND_UNSPECIFIED and for values this build
// does not know (a newer agent may send them).
QueueKind QueueKindFromProto(int kind);

// Whether a wire queue kind is Postfix's or the MPA's: the MPA's numbers
// start at MPA_OUTGOING, Postfix's are below.
QueueSource ProtoQueueSource(int kind);

// "deferred", "mpa-error", ...: the operator's name of a wire queue kind;
// "unknown" for values this build does not know.
absl::string_view ProtoQueueKindName(int kind);

// Parses an operator's queue name ("deferred", "MPA-error") to the wire enum.
absl::StatusOr<v1::QueueKind> ParseProtoQueueKind(absl::string_view name);

}  // namespace mailfleet

#endif  // MAILFLEET_PROTO_QUEUE_KIND_PROTO_H_
