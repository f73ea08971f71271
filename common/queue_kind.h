// The queues mailfleet knows, independent of the wire format.
#ifndef MAILFLEET_COMMON_QUEUE_KIND_H_
#define MAILFLEET_COMMON_QUEUE_KIND_H_

#include <cstdint>
#include <string>

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

// Where a message lives. Postfix queue ids and MPA item ids are separate
// namespaces: one string may name a Postfix message and an MPA item at the
// same time (an MPA may name items after the queue id it received them
// under), so a message is known by its source and its id together.
enum class QueueSource : uint8_t { kPostfix, kMpa };

inline QueueSource SourceOf(QueueKind kind) {
  return kind >= QueueKind::kMpaOutgoing ? QueueSource::kMpa
                                         : QueueSource::kPostfix;
}

// Why an id that names a Postfix message (in `postfix`) and an MPA item
// (in `mpa`) at once is refused without a queue to settle it: "names both a
// Postfix message (deferred) and an MPA item (mpa-error): give the queue".
std::string NamesBothSides(QueueKind postfix, QueueKind mpa);

// The queues of Postfix (maildrop..corrupt), in the order `postqueue` lists
// them, followed by corrupt.
inline constexpr QueueKind kPostfixQueues[] = {
    QueueKind::kMaildrop, QueueKind::kActive, QueueKind::kIncoming,
    QueueKind::kDeferred, QueueKind::kHold,   QueueKind::kCorrupt};

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_QUEUE_KIND_H_
