// Writes Postfix queue files record by record, for tests that need shapes a
// real Postfix rarely produces (pointer records, damage, odd sizes).
#ifndef MAILFLEET_TESTS_TESTING_QUEUE_FILE_BUILDER_H_
#define MAILFLEET_TESTS_TESTING_QUEUE_FILE_BUILDER_H_

#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace mailfleet::testing {

class QueueFileBuilder {
 public:
  // One record: type byte, 7-bit-group length, data.
  QueueFileBuilder& Record(char type, absl::string_view data) {
    out_.push_back(type);
    size_t len = data.size();
    do {
      unsigned char b = len & 0x7f;
      len >>= 7;
      if (len) b |= 0x80;
      out_.push_back(static_cast<char>(b));
    } while (len);
    out_.append(data.data(), data.size());
    return *this;
  }
  size_t size() const { return out_.size(); }
  const std::string& bytes() const { return out_; }
  std::string& mutable_bytes() { return out_; }

  // A typical message as cleanup(8) writes it: size record with the real
  // content length, envelope, content lines, extracted segment, end.
  static std::string Simple(absl::string_view sender,
                            const std::vector<std::string>& recipients,
                            const std::vector<std::string>& lines,
                            long arrival = 1700000000) {
    QueueFileBuilder content;
    for (const auto& l : lines) content.Record('N', l);
    QueueFileBuilder b;
    // Field 1 counts the content records plus the 'X' marker that follows.
    std::string size = absl::StrFormat("%15ld %15ld %15ld %15ld %15ld %15ld",
                                       long(content.size()), 0L,
                                       long(recipients.size()), 0L, 0L, 0L);
    b.Record('C', size);
    b.Record('T', absl::StrFormat("%ld 123456", arrival));
    b.Record('A', "log_client_address=192.0.2.7");
    b.Record('S', sender);
    for (const auto& r : recipients) b.Record('R', r);
    b.Record('M', "");
    b.out_ += content.bytes();
    b.Record('X', "");
    b.Record('E', "");
    return b.bytes();
  }

 private:
  std::string out_;
};

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_TESTING_QUEUE_FILE_BUILDER_H_
