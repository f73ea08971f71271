// Postfix queue IDs: the exact syntax a request must match before an ID is
// used anywhere, and the hashed directory Postfix files a message under.
#ifndef MAILFLEET_COMMON_QUEUE_ID_H_
#define MAILFLEET_COMMON_QUEUE_ID_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mailfleet {

// Longest ID accepted from a request. Real IDs are at most ~22 characters
// (long form: 6+ base-52 seconds, 4 usec, 'z', base-51 inode).
inline constexpr size_t kMaxQueueIdLength = 32;

// OK if `id` is a Postfix queue ID in short form ([0-9A-F]{6,}, hex usec
// then hex inode) or long form (base-52 time, 'z', base-51 inode). The error
// says what is wrong in words an operator can act on.
absl::Status ValidatePostfixQueueId(absl::string_view id);

// Longest MPA item id accepted.
inline constexpr size_t kMaxMpaItemIdLength = 128;

// OK if `id` is an MPA spool item id, [A-Za-z0-9._-]{1,128}; the error says
// what is wrong. The MPA's ids and Postfix's are separate spaces: one string
// may be valid in both.
absl::Status ValidateMpaItemId(absl::string_view id);

// Postfix's own, looser test for names in a queue directory
// (mail_queue_id_ok): [A-Za-z0-9_]{1,255}. The scanner lists what Postfix
// lists, so it uses this; requests use ValidatePostfixQueueId.
bool IsPostfixQueueFileName(absl::string_view name);

// The hashed subdirectory path ("A/" or "A/B/") under which Postfix files
// `id` in a queue listed in hash_queue_names. `id` must satisfy
// IsPostfixQueueFileName and `depth` must be >= 1.
std::string PostfixHashPath(absl::string_view id, int depth);

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_QUEUE_ID_H_
