// Reads Postfix queue-file records: a type byte, a length in little-endian
// 7-bit groups (high bit = more), then that many data bytes. Like Postfix's
// rec_get(), it follows pointer records ('p'), skips padding ('w') and ends
// the file at the end record ('E'); data after 'E' is a heap that is only
// reached through pointers. Unlike it, it stops at a pointer loop (DATA_LOSS)
// once the loop has been read, instead of going round it until the limit of
// 10,000 reverse jumps.
//
// Reads through a window buffer from an open file; never locks or writes.
// Not thread-safe.
#ifndef MAILFLEET_AGENT_POSTFIX_RECORD_READER_H_
#define MAILFLEET_AGENT_POSTFIX_RECORD_READER_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/os/filesystem.h"

namespace mailfleet::postfix {

namespace rec {
// Record types (Postfix's rec_type.h); only those the agent acts on.
inline constexpr char kSize = 'C';
inline constexpr char kTime = 'T';
inline constexpr char kFrom = 'S';
inline constexpr char kRcpt = 'R';
inline constexpr char kOrigRcpt = 'O';
inline constexpr char kAttr = 'A';
inline constexpr char kMesg = 'M';
inline constexpr char kNorm = 'N';
inline constexpr char kCont = 'L';
inline constexpr char kXtra = 'X';
inline constexpr char kEnd = 'E';
inline constexpr char kPtr = 'p';
inline constexpr char kPadding = 'w';
}  // namespace rec

struct Record {
  char type = 0;
  // Valid until the next call to Next() or Seek().
  absl::string_view data;
  // Offset just past this record.
  uint64_t end_offset = 0;
};

class RecordReader {
 public:
  // `file` must outlive the reader; `file_size` bounds every length.
  RecordReader(RandomAccessFile* file, uint64_t file_size,
               size_t window = 4096);

  // The next logical record; NOT_FOUND at the end of the file (after 'E' or
  // at a clean EOF), DATA_LOSS for a framing error (with the offset), other
  // errors for I/O failures.
  absl::StatusOr<Record> Next();

  // Continues reading at `offset` (as after a 'M' record, to skip content).
  void Seek(uint64_t offset) { pos_ = offset; }
  uint64_t position() const { return pos_; }
  // True once an 'E' record was read.
  bool saw_end() const { return saw_end_; }

 private:
  // Makes [offset, offset + n) available in buf_; returns false at EOF.
  absl::StatusOr<bool> Fill(uint64_t offset, size_t n);
  absl::StatusOr<Record> ReadRaw();

  RandomAccessFile* file_;
  uint64_t file_size_;
  size_t window_;
  uint64_t pos_ = 0;
  std::string buf_;
  uint64_t buf_offset_ = 0;
  size_t buf_len_ = 0;
  uint64_t last_jump_ = 0;
  int reverse_jumps_ = 0;
  // Offsets jumped to so far: a second jump to one is a pointer loop.
  absl::flat_hash_set<uint64_t> jump_targets_;
  // Bytes of records read so far. A sound file is read at most once over,
  // whatever its pointers.
  uint64_t consumed_ = 0;
  bool saw_end_ = false;
};

}  // namespace mailfleet::postfix

#endif  // MAILFLEET_AGENT_POSTFIX_RECORD_READER_H_
