#include "tests/client/sample_messages.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mailfleet::testing {

std::vector<v1::Message> SampleMessages(int count, int recipients,
                                        absl::Time newest) {
  static constexpr v1::QueueKind kQueues[] = {
      v1::POSTFIX_DEFERRED, v1::POSTFIX_DEFERRED, v1::POSTFIX_DEFERRED,
      v1::POSTFIX_HOLD,     v1::POSTFIX_ACTIVE,   v1::MPA_ERROR};
  std::vector<v1::Message> messages;
  messages.reserve(count);
  for (int i = 0; i < count; ++i) {
    v1::Message message;
    message.set_queue_id(
        absl::StrFormat("4Xk%07dz%05X", i, i * 7919 % 0xfffff));
    message.set_queue(kQueues[i % 6]);
    const absl::Time arrival = newest - absl::Seconds(count - i);
    message.mutable_arrival_time()->set_seconds(absl::ToUnixSeconds(arrival));
    message.mutable_arrival_time()->set_nanos((i % 1000) * 1000000);
    message.set_size(1000 + (i * 7919) % 5000000);
    message.set_sender(absl::StrCat("sender", i % 97, "@example.com"));
    for (int r = 0; r < recipients; ++r) {
      v1::Recipient* recipient = message.add_recipients();
      recipient->set_address(absl::StrCat("user", i % 1013, "+", r, "@dest",
                                          r % 7, ".example.net"));
      if (message.queue() == v1::POSTFIX_DEFERRED) {
        recipient->set_delay_reason(absl::StrCat(
            "connect to mx", r % 3, ".dest", r % 7, ".example.net[192.0.2.",
            r % 250, "]:25: Connection timed out"));
      }
    }
    message.set_client_address(absl::StrCat("198.51.100.", i % 250));
    if (message.queue() == v1::POSTFIX_DEFERRED) {
      message.mutable_next_attempt_time()->set_seconds(
          absl::ToUnixSeconds(newest) + 300 + i % 600);
    }
    messages.push_back(std::move(message));
  }
  return messages;
}

}  // namespace mailfleet::testing
