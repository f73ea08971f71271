#include "client/cli/message_table.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "client/cli/units.h"
#include "proto/queue_kind_proto.h"

namespace mailfleet::cli {
namespace {

// Widths include the gap to the next column. Postfix's long queue ids are
// 15 to 17 characters; "mpa-outgoing" is the longest queue name.
constexpr size_t kGatewayWidth = 14;
constexpr size_t kIdWidth = 18;
constexpr size_t kQueueWidth = 13;
constexpr size_t kAgeWidth = 4;
constexpr size_t kSizeWidth = 6;
constexpr size_t kTimeWidth = 19;
constexpr size_t kSenderWidth = 31;
constexpr absl::string_view kGap = "  ";
// Where the sender starts in the wide layout, and its recipients below it.
constexpr size_t kWideIndent = kIdWidth + kQueueWidth + kAgeWidth +
                               kGap.size() + kSizeWidth + kGap.size() +
                               kTimeWidth + kGap.size();

// `postqueue` shows the null sender this way.
absl::string_view SenderText(const v1::Message& message) {
  return message.sender().empty() ? absl::string_view("MAILER-DAEMON")
                                  : absl::string_view(message.sender());
}

// Recipient indexes: those not yet tried (no delay reason) first, then the
// others grouped by reason, in order of each reason's first appearance.
std::vector<int> RecipientsByReason(const v1::Message& message) {
  const int count = message.recipients_size();
  std::vector<int> order(count);
  std::iota(order.begin(), order.end(), 0);
  auto reason = [&message](int i) -> absl::string_view {
    return message.recipients(i).delay_reason();
  };
  bool one_reason = true;
  for (int i = 1; i < count && one_reason; ++i) {
    one_reason = reason(i) == reason(0);
  }
  if (one_reason) return order;
  absl::flat_hash_map<absl::string_view, int> first_seen;
  for (int i = 0; i < count; ++i) {
    first_seen.try_emplace(reason(i), reason(i).empty() ? -1 : i);
  }
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return first_seen[reason(a)] < first_seen[reason(b)];
  });
  return order;
}

}  // namespace

size_t MessageTable::WideIndent() const {
  return kWideIndent + (with_gateway_ ? kGatewayWidth : 0);
}

void MessageTable::AppendHeader(std::string* out) const {
  if (with_gateway_) AppendPaddedLeft("GATEWAY", kGatewayWidth, out);
  AppendPaddedLeft("QUEUE ID", kIdWidth, out);
  AppendPaddedLeft("QUEUE", kQueueWidth, out);
  AppendPaddedRight("AGE", kAgeWidth, out);
  out->append(kGap.data(), kGap.size());
  AppendPaddedRight("SIZE", kSizeWidth, out);
  out->append(kGap.data(), kGap.size());
  if (wide_) {
    AppendPaddedLeft("ARRIVAL", kTimeWidth + kGap.size(), out);
    out->append("SENDER/RECIPIENTS\n");
  } else {
    AppendPaddedLeft("SENDER", kSenderWidth, out);
    out->append("RECIPIENTS\n");
  }
}

void MessageTable::AppendMessage(const v1::Message& message, std::string* out) {
  ++messages_;
  bytes_ += message.size();

  if (with_gateway_) AppendPaddedLeft(message.gateway(), kGatewayWidth, out);
  AppendPaddedLeft(message.queue_id(), kIdWidth, out);
  AppendPaddedLeft(ProtoQueueKindName(message.queue()), kQueueWidth, out);
  std::string text;
  if (message.has_arrival_time()) {
    AppendAge(display_.now - ToTime(message.arrival_time()), &text);
  } else {
    text = "-";
  }
  AppendPaddedRight(text, kAgeWidth, out);
  out->append(kGap.data(), kGap.size());
  text.clear();
  AppendSize(message.size(), &text);
  AppendPaddedRight(text, kSizeWidth, out);
  out->append(kGap.data(), kGap.size());

  if (!wide_) {
    AppendPaddedLeft(SenderText(message), kSenderWidth, out);
    if (message.recipients_size() > 0) {
      AppendSanitized(message.recipients(0).address(), out);
      if (message.recipients_size() > 1) {
        absl::StrAppend(out, " +", message.recipients_size() - 1);
      }
    }
    out->push_back('\n');
    return;
  }

  if (message.has_arrival_time()) {
    AppendTime(ToTime(message.arrival_time()), display_, out);
  } else {
    out->append(kTimeWidth, ' ');
  }
  out->append(kGap.data(), kGap.size());
  AppendSanitized(SenderText(message), out);
  out->push_back('\n');
  // As mailq does: each delay reason in parentheses, followed by the
  // recipients that share it.
  const std::string* previous_reason = nullptr;
  for (int index : RecipientsByReason(message)) {
    const v1::Recipient& recipient = message.recipients(index);
    const std::string& reason = recipient.delay_reason();
    if (!reason.empty() &&
        (previous_reason == nullptr || *previous_reason != reason)) {
      out->append(WideIndent(), ' ');
      out->push_back('(');
      AppendSanitized(reason, out);
      out->append(")\n");
    }
    previous_reason = &reason;
    out->append(WideIndent(), ' ');
    AppendSanitized(recipient.address(), out);
    out->push_back('\n');
  }
  if (!message.parse_error().empty()) {
    out->append(WideIndent(), ' ');
    out->append("[unreadable: ");
    AppendSanitized(message.parse_error(), out);
    out->append("]\n");
  }
  out->push_back('\n');
}

void MessageTable::AppendFooter(std::string* out) const {
  absl::StrAppend(out, "-- ", messages_,
                  messages_ == 1 ? " message, " : " messages, ");
  AppendSize(bytes_, out);
  out->push_back('\n');
}

}  // namespace mailfleet::cli
