#include "client/cli/message_json.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace mailfleet::cli {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// RFC 3339's years 0001..9999, the range protobuf accepts.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

// Bytes that can be copied without looking further: printable ASCII except
// the four protobuf escapes ('"', '\\', '<', '>').
struct PlainTable {
  bool plain[256] = {};
  constexpr PlainTable() {
    for (int c = 0x20; c < 0x7f; ++c) plain[c] = true;
    plain[static_cast<int>('"')] = false;
    plain[static_cast<int>('\\')] = false;
    plain[static_cast<int>('<')] = false;
    plain[static_cast<int>('>')] = false;
  }
};
constexpr PlainTable kPlain;

// Writes \uXXXX for one UTF-16 unit into `to`; returns the length, 6.
int WriteHex4(uint32_t unit, char* to) {
  to[0] = '\\';
  to[1] = 'u';
  to[2] = kHex[(unit >> 12) & 0xf];
  to[3] = kHex[(unit >> 8) & 0xf];
  to[4] = kHex[(unit >> 4) & 0xf];
  to[5] = kHex[unit & 0xf];
  return 6;
}

// Writes the escape protobuf uses for code point `cp` into `to` (room for 12
// bytes) and returns its length, or 0 when `cp` is printed as it is.
int WriteEscape(uint32_t cp, char* to) {
  if (cp < 0xa0) {
    char simple = 0;
    switch (cp) {
      case '"':
        simple = '"';
        break;
      case '\\':
        simple = '\\';
        break;
      case '\b':
        simple = 'b';
        break;
      case '\t':
        simple = 't';
        break;
      case '\n':
        simple = 'n';
        break;
      case '\f':
        simple = 'f';
        break;
      case '\r':
        simple = 'r';
        break;
      // '<' and '>' for HTML safety; the rest are C0 controls, DEL and the
      // C1 controls.
      default:
        if (cp < 0x20 || cp >= 0x7f || cp == '<' || cp == '>') {
          return WriteHex4(cp, to);
        }
        return 0;
    }
    to[0] = '\\';
    to[1] = simple;
    return 2;
  }
  // Invisible or format-changing characters, escaped against JavaScript
  // security bugs, as protobuf's json_escaping.cc lists them.
  if (cp == 0xfeff || cp == 0xfff9 || cp == 0xfffa || cp == 0xfffb ||
      cp == 0x00ad || cp == 0x06dd || cp == 0x070f || cp == 0x17b4 ||
      cp == 0x17b5 || (cp >= 0x0600 && cp <= 0x0603) ||
      (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
      (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x206a && cp <= 0x206f)) {
    return WriteHex4(cp, to);
  }
  if (cp == 0xe0001 || (cp >= 0x1d173 && cp <= 0x1d17a) ||
      (cp >= 0xe0020 && cp <= 0xe007f)) {
    // As a UTF-16 surrogate pair.
    WriteHex4(0xd800 + ((cp - 0x10000) >> 10), to);
    WriteHex4(0xdc00 + ((cp - 0x10000) & 0x3ff), to + 6);
    return 12;
  }
  return 0;
}

void AppendDigits(uint32_t value, int width, std::string* out) {
  char buffer[10];
  for (int i = width - 1; i >= 0; --i) {
    buffer[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out->append(buffer, width);
}

// Howard Hinnant's days_from_civil inverse: days since 1970-01-01 to a
// proleptic Gregorian date.
void CivilFromDays(int64_t days, int64_t* year, uint32_t* month,
                   uint32_t* day) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const uint32_t doe = static_cast<uint32_t>(days - era * 146097);
  const uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const uint32_t mp = (5 * doy + 2) / 153;
  *day = doy - (153 * mp + 2) / 5 + 1;
  *month = mp < 10 ? mp + 3 : mp - 9;
  *year = static_cast<int64_t>(yoe) + era * 400 + (*month <= 2 ? 1 : 0);
}

void AppendField(absl::string_view quoted_name_colon, absl::string_view value,
                 bool* first, std::string* out) {
  if (!*first) out->push_back(',');
  *first = false;
  out->append(quoted_name_colon.data(), quoted_name_colon.size());
  AppendJsonString(value, out);
}

absl::Status AppendTimestampField(absl::string_view quoted_name_colon,
                                  const google::protobuf::Timestamp& timestamp,
                                  bool* first, std::string* out) {
  if (!*first) out->push_back(',');
  *first = false;
  out->append(quoted_name_colon.data(), quoted_name_colon.size());
  out->push_back('"');
  absl::Status status = AppendTimestamp(timestamp, out);
  out->push_back('"');
  return status;
}

void AppendRecipient(const v1::Recipient& recipient, std::string* out) {
  out->push_back('{');
  bool first = true;
  if (!recipient.address().empty()) {
    AppendField("\"address\":", recipient.address(), &first, out);
  }
  if (!recipient.orig_address().empty()) {
    AppendField("\"origAddress\":", recipient.orig_address(), &first, out);
  }
  if (!recipient.delay_reason().empty()) {
    AppendField("\"delayReason\":", recipient.delay_reason(), &first, out);
  }
  out->push_back('}');
}

absl::Status AppendMessageFields(const v1::Message& message, std::string* out) {
  out->push_back('{');
  bool first = true;
  // Field number order, which is the order protobuf serializes and prints.
  if (!message.queue_id().empty()) {
    AppendField("\"queueId\":", message.queue_id(), &first, out);
  }
  if (message.queue() != 0) {
    if (!first) out->push_back(',');
    first = false;
    out->append("\"queue\":");
    if (v1::QueueKind_IsValid(message.queue())) {
      out->push_back('"');
      out->append(v1::QueueKind_Name(message.queue()));
      out->push_back('"');
    } else {
      // Values this build does not know print as numbers, as protobuf does.
      absl::StrAppend(out, static_cast<int32_t>(message.queue()));
    }
  }
  if (message.has_arrival_time()) {
    absl::Status status = AppendTimestampField(
        "\"arrivalTime\":", message.arrival_time(), &first, out);
    if (!status.ok()) return status;
  }
  if (message.size() != 0) {
    if (!first) out->push_back(',');
    first = false;
    out->append("\"size\":\"");
    absl::StrAppend(out, message.size());
    out->push_back('"');
  }
  if (!message.sender().empty()) {
    AppendField("\"sender\":", message.sender(), &first, out);
  }
  if (message.recipients_size() > 0) {
    if (!first) out->push_back(',');
    first = false;
    out->append("\"recipients\":[");
    for (int i = 0; i < message.recipients_size(); ++i) {
      if (i > 0) out->push_back(',');
      AppendRecipient(message.recipients(i), out);
    }
    out->push_back(']');
  }
  if (!message.client_address().empty()) {
    AppendField("\"clientAddress\":", message.client_address(), &first, out);
  }
  if (message.forced_expire()) {
    if (!first) out->push_back(',');
    first = false;
    out->append("\"forcedExpire\":true");
  }
  if (message.has_next_attempt_time()) {
    absl::Status status = AppendTimestampField(
        "\"nextAttemptTime\":", message.next_attempt_time(), &first, out);
    if (!status.ok()) return status;
  }
  if (!message.gateway().empty()) {
    AppendField("\"gateway\":", message.gateway(), &first, out);
  }
  if (!message.parse_error().empty()) {
    AppendField("\"parseError\":", message.parse_error(), &first, out);
  }
  if (!message.mpa_error().empty()) {
    AppendField("\"mpaError\":", message.mpa_error(), &first, out);
  }
  if (message.mpa_attempts() != 0) {
    if (!first) out->push_back(',');
    first = false;
    absl::StrAppend(out, "\"mpaAttempts\":", message.mpa_attempts());
  }
  out->push_back('}');
  return absl::OkStatus();
}

}  // namespace

void AppendJsonString(absl::string_view text, std::string* out) {
  out->push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = p + text.size();
  // Bytes from `run` to `p` are still to be copied as they are.
  const unsigned char* run = p;
  auto copy_run = [&](const unsigned char* to) {
    out->append(reinterpret_cast<const char*>(run), to - run);
  };
  while (p < end) {
    const unsigned char c = *p;
    if (kPlain.plain[c]) {
      ++p;
      continue;
    }
    char escape[12];
    if (c < 0x80) {
      copy_run(p);
      out->append(escape, WriteEscape(c, escape));
      run = ++p;
      continue;
    }
    // A multi-byte sequence, decoded the way protobuf's ReadCodePoint does:
    // the lead byte sets the length, continuation bytes are not checked for
    // overlong forms, and a sequence that turns out invalid is dropped
    // together with the byte that broke it.
    uint32_t cp;
    int left;
    if (c <= 0xbf || c >= 0xf8) {
      copy_run(p);
      run = ++p;
      continue;
    } else if (c <= 0xdf) {
      cp = c & 0x1f;
      left = 1;
    } else if (c <= 0xef) {
      cp = c & 0x0f;
      left = 2;
    } else {
      cp = c & 0x07;
      left = 3;
    }
    const unsigned char* q = p + 1;
    bool ok = true;
    while (left > 0 && q < end) {
      const unsigned char next = *q++;
      --left;
      cp = (cp << 6) | (next & 0x3f);
      if (next < 0x80 || next > 0xbf) {
        ok = false;
        break;
      }
    }
    if (!ok || left > 0 || (cp & 0xfffff800) == 0xd800 || cp > 0x10ffff) {
      // Invalid, truncated, a surrogate or beyond Unicode: dropped.
      copy_run(p);
      run = p = q;
      continue;
    }
    if (const int length = WriteEscape(cp, escape); length > 0) {
      copy_run(p);
      out->append(escape, length);
      run = q;
    }
    p = q;
  }
  copy_run(end);
  out->push_back('"');
}

absl::Status AppendTimestamp(const google::protobuf::Timestamp& timestamp,
                             std::string* out) {
  const int64_t seconds = timestamp.seconds();
  const int32_t nanos = timestamp.nanos();
  if (seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat("timestamp seconds ", seconds, " out of range"));
  }
  if (nanos < 0 || nanos > 999999999) {
    return absl::InvalidArgumentError(
        absl::StrCat("timestamp nanos ", nanos, " out of range"));
  }
  int64_t days = seconds / 86400;
  int64_t second_of_day = seconds % 86400;
  if (second_of_day < 0) {
    second_of_day += 86400;
    --days;
  }
  int64_t year;
  uint32_t month, day;
  CivilFromDays(days, &year, &month, &day);
  const uint32_t sod = static_cast<uint32_t>(second_of_day);
  char buffer[19];
  // YYYY-MM-DDTHH:MM:SS
  const auto put = [&buffer](int at, uint32_t value, int width) {
    for (int i = at + width - 1; i >= at; --i) {
      buffer[i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
  };
  put(0, static_cast<uint32_t>(year), 4);
  buffer[4] = '-';
  put(5, month, 2);
  buffer[7] = '-';
  put(8, day, 2);
  buffer[10] = 'T';
  put(11, sod / 3600, 2);
  buffer[13] = ':';
  put(14, sod / 60 % 60, 2);
  buffer[16] = ':';
  put(17, sod % 60, 2);
  out->append(buffer, sizeof(buffer));
  if (nanos != 0) {
    out->push_back('.');
    if (nanos % 1000000 == 0) {
      AppendDigits(nanos / 1000000, 3, out);
    } else if (nanos % 1000 == 0) {
      AppendDigits(nanos / 1000, 6, out);
    } else {
      AppendDigits(nanos, 9, out);
    }
  }
  out->push_back('Z');
  return absl::OkStatus();
}

absl::Status AppendMessageJson(const v1::Message& message, std::string* out) {
  const size_t before = out->size();
  absl::Status status = AppendMessageFields(message, out);
  if (!status.ok()) {
    out->resize(before);
    return absl::InvalidArgumentError(
        absl::StrCat("message ", message.queue_id(), ": ", status.message()));
  }
  return absl::OkStatus();
}

}  // namespace mailfleet::cli
