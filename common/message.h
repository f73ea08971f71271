// The message record every layer shares: what the agent knows about one
// queued message, independent of the wire format.
#ifndef MAILFLEET_COMMON_MESSAGE_H_
#define MAILFLEET_COMMON_MESSAGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/queue_kind.h"

namespace mailfleet {

struct Recipient {
  std::string address;       // external (quoted) form, as postqueue shows it
  std::string orig_address;  // empty unless Postfix recorded a different one
  std::string delay_reason;  // empty unless a delivery attempt failed
};

struct Message {
  std::string queue_id;
  QueueKind queue = QueueKind::kUnknown;
  absl::Time arrival_time = absl::UnixEpoch();
  // Deferred mail only (the queue file's mtime); InfinitePast otherwise.
  absl::Time next_attempt_time = absl::InfinitePast();
  int64_t size = 0;
  std::string sender;  // external form; Postfix's MAILER-DAEMON for <>
  std::vector<Recipient> recipients;
  std::string client_address;
  bool forced_expire = false;
  std::string parse_error;  // non-empty when the file was read only in part
  // MPA items only: why processing failed (error queue), and how often the
  // MPA has tried.
  std::string mpa_error;
  int32_t mpa_attempts = 0;

  // The accessors Filter::Matches expects of any message representation.
  QueueKind queue_kind() const { return queue; }
  absl::Time arrival() const { return arrival_time; }
  int64_t size_bytes() const { return size; }
  absl::string_view id() const { return queue_id; }
  absl::string_view sender_address() const { return sender; }
  absl::string_view client() const { return client_address; }
  QueueSource source() const { return SourceOf(queue); }
  size_t recipient_count() const { return recipients.size(); }
  absl::string_view recipient_address(size_t i) const {
    return recipients[i].address;
  }
  absl::string_view recipient_orig_address(size_t i) const {
    return recipients[i].orig_address;
  }
  absl::string_view recipient_delay_reason(size_t i) const {
    return recipients[i].delay_reason;
  }
};

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_MESSAGE_H_
