#include "common/queue_id.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mailfleet {
namespace {

// The alphabet of long queue IDs: digits and letters without vowels, so an
// ID never spells a word. Base 51 (the inode part) omits the final 'z',
// which is the time/inode separator.
constexpr absl::string_view kLongIdAlphabet =
    "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";
constexpr size_t kLongIdTimeChars = 10;  // >= 6 seconds + exactly 4 usec
constexpr size_t kLongIdUsecChars = 4;

int LongIdDigit(char c) {
  size_t pos = kLongIdAlphabet.find(c);
  return pos == absl::string_view::npos ? -1 : static_cast<int>(pos);
}

bool IsUpperHex(char c) { return absl::ascii_isdigit(c) || (c >= 'A' && c <= 'F'); }

absl::Status ValidateLongId(absl::string_view id, size_t z) {
  for (size_t i = 0; i < z; ++i) {
    if (LongIdDigit(id[i]) < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "queue id '", id, "' has an invalid character '",
          absl::CEscape(id.substr(i, 1)),
          "' in its time part: long queue ids use [0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]"));
    }
  }
  if (z + 1 == id.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("queue id '", id, "' has no inode number after 'z'"));
  }
  for (size_t i = z + 1; i < id.size(); ++i) {
    int d = LongIdDigit(id[i]);
    if (d < 0 || d >= 51) {
      return absl::InvalidArgumentError(absl::StrCat(
          "queue id '", id, "' has an invalid character '",
          absl::CEscape(id.substr(i, 1)),
          "' in its inode part: expected [0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidatePostfixQueueId(absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("queue id is empty");
  if (id.size() > kMaxQueueIdLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "queue id '", absl::CEscape(id.substr(0, kMaxQueueIdLength)),
        "...' is longer than ", kMaxQueueIdLength, " characters"));
  }
  // A long ID's separator is its last 'z' at index >= 10 (the time part
  // may itself contain 'z').
  size_t z = id.rfind('z');
  if (z != absl::string_view::npos && z >= kLongIdTimeChars) {
    return ValidateLongId(id, z);
  }
  for (char c : id) {
    if (!IsUpperHex(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "queue id '", absl::CEscape(id), "' has an invalid character '",
          absl::CEscape(absl::string_view(&c, 1)),
          "': expected a short id [0-9A-F]{6,} or a long id like "
          "3Pt2mN2VXxznjll"));
    }
  }
  if (id.size() < 6) {
    return absl::InvalidArgumentError(absl::StrCat(
        "queue id '", id, "' is too short: short queue ids have at least 6 "
                          "hexadecimal digits"));
  }
  return absl::OkStatus();
}

bool IsPostfixQueueFileName(absl::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_') return false;
  }
  return true;
}

std::string PostfixHashPath(absl::string_view id, int depth) {
  // Long IDs hash on their microseconds, re-encoded as the five hex digits a
  // short ID starts with, so both styles spread over the same 16 dirs.
  std::string key(id);
  size_t z = id.rfind('z');
  if (z != absl::string_view::npos && z >= kLongIdTimeChars) {
    uint64_t usec = 0;
    bool ok = true;
    for (char c : id.substr(z - kLongIdUsecChars, kLongIdUsecChars)) {
      int d = LongIdDigit(c);
      if (d < 0 || d >= 52) ok = false;
      usec = usec * 52 + (d < 0 ? 0 : d);
    }
    if (ok) key = absl::StrFormat("%05X", usec);
  }
  std::string path;
  for (int level = 0; level < depth; ++level) {
    path += level < static_cast<int>(key.size()) ? key[level] : '_';
    path += '/';
  }
  return path;
}

absl::Status ValidateMpaItemId(absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("empty MPA item id");
  if (id.size() > kMaxMpaItemIdLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MPA item id longer than ", kMaxMpaItemIdLength, " characters"));
  }
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != '-') {
      return absl::InvalidArgumentError(absl::StrCat(
          "MPA item id \"", absl::CHexEscape(id),
          "\" may hold only letters, digits, '.', '_' and '-'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace mailfleet
