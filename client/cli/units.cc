#include "client/cli/units.h"

#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mailfleet::cli {
namespace {

constexpr absl::string_view kAgeExpected =
    "expected a whole number followed by s, m, h, d or w, e.g. 90s, 30m, 2h, "
    "3d, 1w";
constexpr absl::string_view kSizeExpected =
    "expected a whole number of bytes with an optional k, M or G suffix "
    "(powers of 1024), e.g. 512, 10k, 2M";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

absl::StatusOr<absl::Duration> ParseAge(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError(kAgeExpected);
  absl::Duration total;
  size_t i = 0;
  while (i < text.size()) {
    size_t digits_end = i;
    while (digits_end < text.size() && IsDigit(text[digits_end])) ++digits_end;
    int64_t count;
    if (digits_end == i || digits_end == text.size() ||
        !absl::SimpleAtoi(text.substr(i, digits_end - i), &count)) {
      return absl::InvalidArgumentError(kAgeExpected);
    }
    absl::Duration unit;
    switch (text[digits_end]) {
      case 's':
        unit = absl::Seconds(1);
        break;
      case 'm':
        unit = absl::Minutes(1);
        break;
      case 'h':
        unit = absl::Hours(1);
        break;
      case 'd':
        unit = absl::Hours(24);
        break;
      case 'w':
        unit = absl::Hours(24 * 7);
        break;
      default:
        return absl::InvalidArgumentError(kAgeExpected);
    }
    // Ten thousand years is more than any queue holds; beyond it is a typo.
    if (count > 10000 * 366 * 24 * 3600LL / absl::ToInt64Seconds(unit)) {
      return absl::InvalidArgumentError("age is too large");
    }
    total += count * unit;
    i = digits_end + 1;
  }
  return total;
}

absl::StatusOr<int64_t> ParseByteSize(absl::string_view text) {
  int shift = 0;
  if (!text.empty()) {
    switch (absl::ascii_tolower(text.back())) {
      case 'k':
        shift = 10;
        break;
      case 'm':
        shift = 20;
        break;
      case 'g':
        shift = 30;
        break;
      default:
        break;
    }
    if (shift != 0) text.remove_suffix(1);
  }
  if (text.empty()) return absl::InvalidArgumentError(kSizeExpected);
  for (char c : text) {
    if (!IsDigit(c)) return absl::InvalidArgumentError(kSizeExpected);
  }
  int64_t value;
  if (!absl::SimpleAtoi(text, &value) ||
      value > (std::numeric_limits<int64_t>::max() >> shift)) {
    return absl::InvalidArgumentError("size is too large");
  }
  return value << shift;
}

absl::StatusOr<int64_t> ParsePositiveCount(absl::string_view text) {
  int64_t value;
  bool digits_only = !text.empty();
  for (char c : text) digits_only = digits_only && IsDigit(c);
  if (!digits_only || !absl::SimpleAtoi(text, &value) || value == 0) {
    return absl::InvalidArgumentError("expected a whole number above 0");
  }
  return value;
}

void AppendAge(absl::Duration age, std::string* out) {
  if (age < absl::ZeroDuration()) {
    out->push_back('-');
    return;
  }
  const int64_t seconds = absl::ToInt64Seconds(age);
  if (seconds < 60) {
    absl::StrAppend(out, seconds, "s");
  } else if (seconds < 3600) {
    absl::StrAppend(out, seconds / 60, "m");
  } else if (seconds < 86400) {
    absl::StrAppend(out, seconds / 3600, "h");
  } else {
    absl::StrAppend(out, seconds / 86400, "d");
  }
}

std::string FormatAge(absl::Duration age) {
  std::string text;
  AppendAge(age, &text);
  return text;
}

void AppendSize(int64_t bytes, std::string* out) {
  static constexpr char kUnits[] = "KMGTPE";
  if (bytes < 1024) {
    absl::StrAppend(out, bytes);
    return;
  }
  // Tenths of the unit, rounded down so that "1.0K" never means 1023 bytes.
  int unit = 0;
  double value = bytes / 1024.0;
  while (value >= 1024 && unit < 5) {
    value /= 1024;
    ++unit;
  }
  if (value < 10) {
    const int64_t tenths = static_cast<int64_t>(value * 10);
    absl::StrAppend(out, tenths / 10, ".", tenths % 10);
  } else {
    absl::StrAppend(out, static_cast<int64_t>(value));
  }
  out->push_back(kUnits[unit]);
}

std::string FormatSize(int64_t bytes) {
  std::string text;
  AppendSize(bytes, &text);
  return text;
}

}  // namespace mailfleet::cli
