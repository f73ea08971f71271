#include "client/cli/terminal_text.h"

#include <cstdint>

namespace mailfleet::cli {
namespace {

bool IsControlByte(unsigned char c) { return c < 0x20 || c == 0x7f; }

}  // namespace

void AppendSanitized(absl::string_view text, std::string* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = p + text.size();
  const unsigned char* run = p;
  while (p < end) {
    const unsigned char c = *p;
    // U+0080..U+009F, the C1 controls, are 0xC2 0x80..0x9F in UTF-8.
    const bool c1 = c == 0xc2 && p + 1 < end && p[1] >= 0x80 && p[1] <= 0x9f;
    if (!IsControlByte(c) && !c1) {
      ++p;
      continue;
    }
    out->append(reinterpret_cast<const char*>(run), p - run);
    out->push_back('?');
    p += c1 ? 2 : 1;
    run = p;
  }
  out->append(reinterpret_cast<const char*>(run), end - run);
}

size_t TextWidth(absl::string_view text) {
  size_t width = 0;
  for (char c : text) {
    // Count every byte except UTF-8 continuation bytes.
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++width;
  }
  return width;
}

void AppendPaddedLeft(absl::string_view text, size_t width, std::string* out) {
  AppendSanitized(text, out);
  const size_t used = TextWidth(text);
  out->append(used < width ? width - used : 1, ' ');
}

void AppendPaddedRight(absl::string_view text, size_t width, std::string* out) {
  if (text.size() < width) out->append(width - text.size(), ' ');
  out->append(text.data(), text.size());
}

void AppendTime(absl::Time time, const DisplayContext& display,
                std::string* out) {
  const absl::CivilSecond cs = display.zone.At(time).cs;
  // By hand rather than absl::FormatTime: `ls -o wide` prints one per row.
  char buffer[19];
  const auto put = [&buffer](int at, int64_t value, int width) {
    for (int i = at + width - 1; i >= at; --i) {
      buffer[i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
  };
  const int64_t year = cs.year();
  if (year < 0 || year > 9999) {
    out->append(19, '?');
    return;
  }
  put(0, year, 4);
  buffer[4] = '-';
  put(5, cs.month(), 2);
  buffer[7] = '-';
  put(8, cs.day(), 2);
  buffer[10] = ' ';
  put(11, cs.hour(), 2);
  buffer[13] = ':';
  put(14, cs.minute(), 2);
  buffer[16] = ':';
  put(17, cs.second(), 2);
  out->append(buffer, sizeof(buffer));
}

absl::Time ToTime(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) +
         absl::Nanoseconds(timestamp.nanos());
}

}  // namespace mailfleet::cli
