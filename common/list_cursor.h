// Where an agent's listing resumes, and the opaque page token that carries
// it. The agent decodes tokens (checking ids with its own rules); the
// controller encodes them to resume each gateway's listing after the last
// message it took from it.
#ifndef MAILFLEET_COMMON_LIST_CURSOR_H_
#define MAILFLEET_COMMON_LIST_CURSOR_H_

#include <cstdint>
#include <string>

#include "common/queue_kind.h"

namespace mailfleet {

// After the message with this sort key (arrival, id, source).
struct ListCursor {
  int64_t arrival_us = 0;
  std::string queue_id;
  QueueSource source = QueueSource::kPostfix;
};

// "<arrival_us>:<p|m>:<queue_id>", web-safe base64.
std::string EncodePageToken(const ListCursor& cursor);

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_LIST_CURSOR_H_
