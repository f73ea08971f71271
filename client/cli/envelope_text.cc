#include "client/cli/envelope_text.h"

#include "absl/strings/str_cat.h"
#include "client/cli/text_table.h"
#include "client/cli/units.h"
#include "proto/queue_kind_proto.h"

namespace mailfleet::cli {
namespace {

// "forced expire" is the longest key.
constexpr size_t kKeyWidth = 13;

// "2024-11-24 12:00:00 (3h ago)", or "(in 5m)" for a time still ahead.
std::string TimeWithAge(const google::protobuf::Timestamp& timestamp,
                        const DisplayContext& display) {
  const absl::Time time = ToTime(timestamp);
  std::string text;
  AppendTime(time, display, &text);
  if (time <= display.now) {
    absl::StrAppend(&text, " (", FormatAge(display.now - time), " ago)");
  } else {
    absl::StrAppend(&text, " (in ", FormatAge(time - display.now), ")");
  }
  return text;
}

}  // namespace

void AppendEnvelopeText(const v1::Message& message,
                        const DisplayContext& display, std::string* out) {
  auto line = [out](absl::string_view key, absl::string_view value) {
    AppendLabeledLine(key, value, kKeyWidth, out);
  };
  line("queue id", message.queue_id());
  line("queue", ProtoQueueKindName(message.queue()));
  if (!message.gateway().empty()) line("gateway", message.gateway());
  line("arrival", message.has_arrival_time()
                      ? TimeWithAge(message.arrival_time(), display)
                      : "-");
  line("size", message.size() < 1024
                   ? absl::StrCat(message.size())
                   : absl::StrCat(message.size(), " (",
                                  FormatSize(message.size()), ")"));
  line("sender", message.sender().empty() ? "MAILER-DAEMON (null sender)"
                                          : message.sender());
  // An MPA item has no SMTP client nor queue manager schedule; it has the
  // MPA's error and attempts instead.
  const bool mpa = ProtoQueueSource(message.queue()) == QueueSource::kMpa;
  if (mpa) {
    line("mpa error", message.mpa_error().empty() ? "-" : message.mpa_error());
    line("attempts", absl::StrCat(message.mpa_attempts()));
  } else {
    line("client",
         message.client_address().empty() ? "-" : message.client_address());
    line("forced expire", message.forced_expire() ? "yes" : "no");
    line("next attempt", message.has_next_attempt_time()
                             ? TimeWithAge(message.next_attempt_time(), display)
                             : "-");
  }
  for (const v1::Recipient& recipient : message.recipients()) {
    line("recipient", recipient.address());
    if (!recipient.orig_address().empty()) {
      line("  original", recipient.orig_address());
    }
    // An MPA item's recipients carry its error, shown once above.
    if (!recipient.delay_reason().empty() &&
        !(mpa && recipient.delay_reason() == message.mpa_error())) {
      line("  reason", recipient.delay_reason());
    }
  }
  if (!message.parse_error().empty()) {
    line("parse error", message.parse_error());
  }
}

}  // namespace mailfleet::cli
