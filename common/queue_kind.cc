#include "common/queue_kind.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace mailfleet {

absl::string_view QueueKindName(QueueKind kind) {
  switch (kind) {
    case QueueKind::kMaildrop: return "maildrop";
    case QueueKind::kIncoming: return "incoming";
    case QueueKind::kActive: return "active";
    case QueueKind::kDeferred: return "deferred";
    case QueueKind::kHold: return "hold";
    case QueueKind::kCorrupt: return "corrupt";
    case QueueKind::kMpaOutgoing: return "mpa-outgoing";
    case QueueKind::kMpaError: return "mpa-error";
    case QueueKind::kMpaSpool: return "mpa-spool";
    case QueueKind::kMpaRespool: return "mpa-respool";
    case QueueKind::kUnknown: break;
  }
  return "unknown";
}

std::string NamesBothSides(QueueKind postfix, QueueKind mpa) {
  return absl::StrCat("names both a Postfix message (", QueueKindName(postfix),
                      ") and an MPA item (", QueueKindName(mpa), "): give the queue");
}

absl::StatusOr<QueueKind> ParseQueueKind(absl::string_view name) {
  for (int i = 1; i < kQueueKindCount; ++i) {
    auto kind = static_cast<QueueKind>(i);
    if (absl::EqualsIgnoreCase(name, QueueKindName(kind))) return kind;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown queue '", name,
      "': expected maildrop, incoming, active, deferred, hold, corrupt, "
      "mpa-outgoing, mpa-error, mpa-spool or mpa-respool"));
}

}  // namespace mailfleet
