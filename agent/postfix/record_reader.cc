#include "agent/postfix/record_reader.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace mailfleet::postfix {
namespace {

// Postfix gives up after this many backward pointer jumps in one file, so
// that a pointer loop cannot hang a reader.
constexpr int kMaxReverseJumps = 10000;

// Without a loop, pointers into the middle of records can still make a
// damaged file's bytes be read several times over (Postfix reads them as
// often); past this many times its size, reading stops, so that such a
// file cannot multiply its recipients and content as a loop would.
constexpr uint64_t kMaxReadsOfEachByte = 4;

absl::Status Framing(uint64_t offset, absl::string_view what) {
  return absl::DataLossError(absl::StrCat(what, " at offset ", offset));
}

// The target of a pointer record as Postfix's rec_goto() reads it: the data
// is a C string, leading blanks are skipped and the rest must be digits
// alone (no sign, no trailing blank); no digits at all is the placeholder 0.
std::optional<uint64_t> PointerTarget(absl::string_view data) {
  data = absl::StripLeadingAsciiWhitespace(data.substr(0, data.find('\0')));
  uint64_t target = 0;
  for (char c : data) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return std::nullopt;
    }
    const uint64_t digit = c - '0';
    // Postfix's off_t is signed 64-bit.
    if (target > (uint64_t{INT64_MAX} - digit) / 10) return std::nullopt;
    target = target * 10 + digit;
  }
  return target;
}

}  // namespace

RecordReader::RecordReader(RandomAccessFile* file, uint64_t file_size,
                           size_t window)
    : file_(file), file_size_(file_size), window_(window) {}

absl::StatusOr<bool> RecordReader::Fill(uint64_t offset, size_t n) {
  if (offset >= buf_offset_ && offset + n <= buf_offset_ + buf_len_) return true;
  if (offset + n > file_size_) return false;
  size_t want = std::max(n, window_);
  want = static_cast<size_t>(std::min<uint64_t>(want, file_size_ - offset));
  if (buf_.size() < want) buf_.resize(want);
  auto got = file_->ReadAt(offset, want, buf_.data());
  if (!got.ok()) return got.status();
  buf_offset_ = offset;
  buf_len_ = *got;
  // The file shrank under us (or was replaced): treat as EOF.
  return *got >= n;
}

absl::StatusOr<Record> RecordReader::ReadRaw() {
  const uint64_t start = pos_;
  absl::StatusOr<bool> ok = Fill(pos_, 1);
  if (!ok.ok()) return ok.status();
  if (!*ok) return absl::NotFoundError("end of file");
  Record r;
  r.type = buf_[pos_ - buf_offset_];
  uint64_t p = pos_ + 1;
  uint64_t len = 0;
  for (unsigned shift = 0;; shift += 7) {
    if (shift >= 32) return Framing(start, "record length has too many bytes");
    ok = Fill(p, 1);
    if (!ok.ok()) return ok.status();
    if (!*ok) return Framing(start, "end of file inside a record length");
    unsigned char b = buf_[p - buf_offset_];
    ++p;
    len |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) break;
  }
  if (len > file_size_ - std::min(p, file_size_)) {
    return Framing(start, absl::StrCat("record of type '", absl::CHexEscape(
                                           absl::string_view(&r.type, 1)),
                                       "' is longer (", len,
                                       " bytes) than the rest of the file"));
  }
  ok = Fill(p, len);
  if (!ok.ok()) return ok.status();
  if (!*ok) return Framing(start, "end of file inside record data");
  r.data = absl::string_view(buf_.data() + (p - buf_offset_), len);
  r.end_offset = p + len;
  pos_ = r.end_offset;
  consumed_ += r.end_offset - start;
  if (consumed_ / kMaxReadsOfEachByte > file_size_) {
    return Framing(start, absl::StrCat("pointer records make the file read "
                                       "more than ",
                                       kMaxReadsOfEachByte, " times over"));
  }
  return r;
}

absl::StatusOr<Record> RecordReader::Next() {
  if (saw_end_) return absl::NotFoundError("end of file");
  for (;;) {
    absl::StatusOr<Record> r = ReadRaw();
    if (!r.ok()) return r;
    if (r->type == rec::kPadding) continue;
    if (r->type == rec::kPtr) {
      const std::optional<uint64_t> target = PointerTarget(r->data);
      if (!target.has_value()) {
        return Framing(r->end_offset, "malformed pointer record");
      }
      if (*target == 0) continue;  // a placeholder pointer: read on
      // Postfix would seek there and meet the end of the file.
      if (*target >= file_size_) {
        return Framing(r->end_offset,
                       "pointer record points past the end of the file");
      }
      if (*target <= last_jump_ && ++reverse_jumps_ > kMaxReverseJumps) {
        return Framing(r->end_offset, "too many reverse pointer jumps");
      }
      // From a target the reader reads on exactly as the first time, so a
      // second jump there is a loop. Postfix follows it until its reverse
      // jump limit, listing the loop's recipients up to 10,000 times; the
      // loop has been read once, so stop.
      if (!jump_targets_.insert(*target).second) {
        return Framing(
            r->end_offset,
            absl::StrCat("pointer loop: a second jump to offset ", *target));
      }
      last_jump_ = *target;
      pos_ = *target;
      continue;
    }
    if (r->type == rec::kEnd) saw_end_ = true;
    return r;
  }
}

}  // namespace mailfleet::postfix
