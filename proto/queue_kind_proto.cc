#include "proto/queue_kind_proto.h"

namespace mailfleet {

v1::QueueKind QueueKindToProto(QueueKind kind) {
  switch (kind) {
    case QueueKind::kMaildrop:
      return v1::POSTFIX_MAILDROP;
    case QueueKind::kIncoming:
      return v1::POSTFIX_INCOMING;
    case QueueKind::kActive:
      return v1::POSTFIX_ACTIVE;
    case QueueKind::kDeferred:
      return v1::POSTFIX_DEFERRED;
    case QueueKind::kHold:
      return v1::POSTFIX_HOLD;
    case QueueKind::kCorrupt:
      return v1::POSTFIX_CORRUPT;
    case QueueKind::kMpaOutgoing:
      return v1::MPA_OUTGOING;
    case QueueKind::kMpaError:
      return v1::MPA_ERROR;
    case QueueKind::kMpaSpool:
      return v1::MPA_SPOOL;
    case QueueKind::kMpaRespool:
      return v1::MPA_RESPOOL;
    case QueueKind::kUnknown:
      break;
  }
  return v1::QUEUE_KIND_UNSPECIFIED;
}

QueueSource ProtoQueueSource(int kind) {
  return kind >= v1::MPA_OUTGOING ? QueueSource::kMpa : QueueSource::kPostfix;
}

QueueKind QueueKindFromProto(int kind) {
  switch (kind) {
    case v1::POSTFIX_MAILDROP:
      return QueueKind::kMaildrop;
    case v1::POSTFIX_INCOMING:
      return QueueKind::kIncoming;
    case v1::POSTFIX_ACTIVE:
      return QueueKind::kActive;
    case v1::POSTFIX_DEFERRED:
      return QueueKind::kDeferred;
    case v1::POSTFIX_HOLD:
      return QueueKind::kHold;
    case v1::POSTFIX_CORRUPT:
      return QueueKind::kCorrupt;
    case v1::MPA_OUTGOING:
      return QueueKind::kMpaOutgoing;
    case v1::MPA_ERROR:
      return QueueKind::kMpaError;
    case v1::MPA_SPOOL:
      return QueueKind::kMpaSpool;
    case v1::MPA_RESPOOL:
      return QueueKind::kMpaRespool;
    default:
      break;
  }
  return QueueKind::kUnknown;
}

absl::string_view ProtoQueueKindName(int kind) {
  return QueueKindName(QueueKindFromProto(kind));
}

absl::StatusOr<v1::QueueKind> ParseProtoQueueKind(absl::string_view name) {
  absl::StatusOr<QueueKind> kind = ParseQueueKind(name);
  if (!kind.ok()) return kind.status();
  return QueueKindToProto(*kind);
}

}  // namespace mailfleet
