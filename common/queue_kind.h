// The queues mailfleet knows, independent of the wire format.
#ifndef MAILFLEET_COMMON_QUEUE_KIND_H_
#define MAILFLEET_COMMON_QUEUE_KIND_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mailfleet {

enum class QueueKind : uint8_t {
  kUnknown = 0,
  kMaildrop,
  kIncoming,
  kActive,
  kDeferred,
  kHold,
  kCorrupt,
  kMpaOutgoing,
  kMpaError,
  kMpaSpool,
  kMpaRespool,
};
inline constexpr int kQueueKindCount = 11;

// "deferred", "hold", ..., "mpa-error": the names operators type and read.
absl::string_view QueueKindName(QueueKind kind);

// Accepts the names above, case-insensitively.
absl::StatusOr<QueueKind> ParseQueueKind(absl::string_view name);

// The queues of Postfix (maildrop..corrupt), in the order `postqueue` lists
// them, followed by corrupt.
inline constexpr QueueKind kPostfixQueues[] = {
    QueueKind::kMaildrop, QueueKind::kActive, QueueKind::kIncoming,
    QueueKind::kDeferred, QueueKind::kHold,   QueueKind::kCorrupt};

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_QUEUE_KIND_H_
