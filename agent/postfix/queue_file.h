// Reads one Postfix queue file: the envelope the way showq(8) sees it, and
// the raw message content the way `postcat -bh` prints it. Pure: works on an
// already open file and never locks it (a lock would make the queue manager
// skip the message).
#ifndef MAILFLEET_AGENT_POSTFIX_QUEUE_FILE_H_
#define MAILFLEET_AGENT_POSTFIX_QUEUE_FILE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/os/filesystem.h"

namespace mailfleet::postfix {

struct EnvelopeRecipient {
  std::string address;       // raw, unquoted, as in the 'R' record
  std::string orig_address;  // from a preceding 'O' record, if any
};

struct QueueFileEnvelope {
  // From the first 'T' record; 0 when there is none.
  int64_t arrival_seconds = 0;
  int64_t arrival_micros = 0;
  // Field 1 of the size record: the content size Postfix reports. Unset
  // (size_ok false) when the record is missing or malformed.
  bool size_ok = false;
  int64_t content_size = 0;
  bool sender_seen = false;
  std::string sender;  // raw; empty for the null sender
  // Recipients not yet done, envelope and extracted segments, in file order.
  std::vector<EnvelopeRecipient> recipients;
  // The SMTP client, preferring Postfix's logging view (log_client_address).
  std::string client_address;
  // Why reading stopped early; empty when the file was read to its end.
  std::string error;
};

// Reads the envelope and extracted segments, skipping the content by seeking
// over it as showq does. Format problems are returned in `error` with what
// was read before them; only I/O failures are returned as a status.
absl::StatusOr<QueueFileEnvelope> ReadEnvelope(RandomAccessFile& file,
                                               uint64_t file_size);

// Largest chunk handed to a content sink.
inline constexpr size_t kContentChunkBytes = 64 * 1024;

// Streams the raw message (headers and body, LF line endings, exactly as
// `postcat -bh` prints it) to `sink` in chunks of at most
// kContentChunkBytes. Follows pointer records, so content that a milter
// edited is returned in its edited form. DATA_LOSS for a damaged file.
absl::Status ReadContent(
    RandomAccessFile& file, uint64_t file_size,
    const std::function<absl::Status(absl::string_view)>& sink);

}  // namespace mailfleet::postfix

#endif  // MAILFLEET_AGENT_POSTFIX_QUEUE_FILE_H_
