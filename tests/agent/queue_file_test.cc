#include "agent/postfix/queue_file.h"

#include <string>

#include "agent/postfix/record_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_filesystem.h"
#include "tests/testing/queue_file_builder.h"

namespace mailfleet::postfix {
namespace {

using ::mailfleet::testing::QueueFileBuilder;
using ::mailfleet::testing::StringFile;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;

QueueFileEnvelope Envelope(const std::string& bytes) {
  StringFile f(bytes);
  auto env = ReadEnvelope(f, bytes.size());
  EXPECT_TRUE(env.ok()) << env.status();
  return env.ok() ? *env : QueueFileEnvelope{};
}

std::string Content(const std::string& bytes) {
  StringFile f(bytes);
  std::string out;
  absl::Status s = ReadContent(f, bytes.size(), [&](absl::string_view c) {
    EXPECT_LE(c.size(), kContentChunkBytes);
    out.append(c.data(), c.size());
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

TEST(RecordReaderTest, DecodesMultiByteLengths) {
  std::string data(300, 'x');
  QueueFileBuilder b;
  b.Record('N', data).Record('E', "");
  // 300 = 0b10_0101100: low group 0x2c with the continuation bit, then 0x02.
  EXPECT_EQ(static_cast<unsigned char>(b.bytes()[1]), 0xac);
  EXPECT_EQ(static_cast<unsigned char>(b.bytes()[2]), 0x02);
  StringFile f(b.bytes());
  RecordReader r(&f, b.size(), 16);
  auto rec = r.Next();
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->type, 'N');
  EXPECT_EQ(rec->data, data);
  ASSERT_TRUE(r.Next().ok());
  EXPECT_TRUE(absl::IsNotFound(r.Next().status()));
}

TEST(RecordReaderTest, LengthPastEndOfFileIsDataLoss) {
  QueueFileBuilder b;
  b.Record('S', "sender@example.com");
  std::string bytes = b.bytes().substr(0, b.size() - 3);
  StringFile f(bytes);
  RecordReader r(&f, bytes.size());
  auto rec = r.Next();
  EXPECT_TRUE(absl::IsDataLoss(rec.status())) << rec.status();
}

TEST(RecordReaderTest, TooManyLengthBytesIsDataLoss) {
  std::string bytes = "N\xff\xff\xff\xff\xff\x01";
  StringFile f(bytes);
  RecordReader r(&f, bytes.size());
  EXPECT_TRUE(absl::IsDataLoss(r.Next().status()));
}

TEST(RecordReaderTest, PointerLoopIsStoppedNotFollowedForever) {
  QueueFileBuilder b;
  b.Record('p', "0000000000000000");  // placeholder, read on
  size_t loop_at = b.size();
  b.Record('p', std::to_string(loop_at));  // points at itself
  StringFile f(b.bytes());
  RecordReader r(&f, b.size());
  auto rec = r.Next();
  EXPECT_TRUE(absl::IsDataLoss(rec.status())) << rec.status();
  EXPECT_THAT(std::string(rec.status().message()), HasSubstr("pointer"));
}

TEST(RecordReaderTest, PointerLoopCannotMultiplyRecipients) {
  // 200 recipients, then a pointer back to the first: without a bound this
  // would list them 10,000 times over.
  QueueFileBuilder b;
  b.Record('S', "a@example.com");
  size_t first = b.size();
  for (int i = 0; i < 200; ++i) b.Record('R', "r" + std::to_string(i) + "@example.com");
  b.Record('p', absl::StrFormat("%15ld", long(first)));
  StringFile f(b.bytes());
  auto env = ReadEnvelope(f, b.size());
  ASSERT_TRUE(env.ok());
  EXPECT_THAT(env->error, HasSubstr("pointer loop"));
  EXPECT_LE(env->recipients.size(), 400u);
}

// Found by running fuzz_queue_file's corpus through `postqueue -j`: the
// reader stopped with "pointer loop" once it had read more bytes than the
// file holds, so that one jump back into the middle of a record, which
// Postfix reads past, hid the recipients after it.
TEST(RecordReaderTest, OneJumpBackIntoARecordIsNoLoop) {
  QueueFileBuilder b;
  b.Record('S', "s@example.com");  // [0, 15)
  // An attribute, [15, 25), whose data read from offset 19 on is an 'N'
  // record that ends where the pointer record, [25, 42), ends.
  b.Record('A', std::string("x=N\x15yyyy", 8));
  b.Record('p', absl::StrFormat("%15d", 19));
  b.Record('R', "r@example.com").Record('E', "");
  ASSERT_EQ(b.size(), 59u);
  QueueFileEnvelope env = Envelope(b.bytes());
  EXPECT_EQ(env.error, "");
  EXPECT_THAT(env.recipients,
              ElementsAre(Field(&EnvelopeRecipient::address, "r@example.com")));
}

// Found the same way: a pointer record's data is a C string to Postfix, and
// rec_goto() skips leading blanks only; nothing left is the placeholder 0.
TEST(RecordReaderTest, PointerTargetsAreReadAsPostfixReadsThem) {
  auto read = [](absl::string_view pointer) {
    QueueFileBuilder b;
    b.Record('S', "s@example.com").Record('p', pointer);
    b.Record('R', "r@example.com").Record('E', "");
    return Envelope(b.bytes());
  };
  QueueFileEnvelope blank_then_nul = read(std::string("          \0 208", 15));
  EXPECT_EQ(blank_then_nul.error, "");
  EXPECT_EQ(blank_then_nul.recipients.size(), 1u);
  for (absl::string_view bad : {"15 ", "+15", "1x", "99999999999999999999"}) {
    QueueFileEnvelope env = read(bad);
    EXPECT_THAT(env.error, HasSubstr("malformed pointer record")) << bad;
    EXPECT_TRUE(env.recipients.empty()) << bad;
  }
}

TEST(QueueFileTest, DataEndsAtANulAsInPostfix) {
  QueueFileBuilder b;
  b.Record('C', std::string("             10\0junk", 20))
      .Record('S', std::string("a@example.com\0tail", 19))
      .Record('R', std::string("user\0junk@example.org", 22))
      .Record('E', "");
  QueueFileEnvelope env = Envelope(b.bytes());
  EXPECT_TRUE(env.size_ok);
  EXPECT_EQ(env.content_size, 10);
  EXPECT_EQ(env.sender, "a@example.com");
  ASSERT_EQ(env.recipients.size(), 1u);
  EXPECT_EQ(env.recipients[0].address, "user");
}

TEST(QueueFileTest, RecordOfTypeZeroEndsTheEnvelope) {
  QueueFileBuilder b;
  b.Record('S', "a@example.com").Record('R', "b@example.com");
  b.Record('\0', "").Record('R', "hidden@example.com").Record('E', "");
  QueueFileEnvelope env = Envelope(b.bytes());
  ASSERT_EQ(env.recipients.size(), 1u);
  EXPECT_FALSE(env.error.empty());
}

TEST(QueueFileTest, ReadsEnvelopeLikeShowq) {
  std::string file = QueueFileBuilder::Simple(
      "alice@example.com", {"bob@example.net", "carol@example.org"},
      {"Subject: hi", "", "body"});
  QueueFileEnvelope env = Envelope(file);
  EXPECT_EQ(env.error, "");
  EXPECT_EQ(env.arrival_seconds, 1700000000);
  EXPECT_EQ(env.arrival_micros, 123456);
  EXPECT_TRUE(env.size_ok);
  EXPECT_TRUE(env.sender_seen);
  EXPECT_EQ(env.sender, "alice@example.com");
  EXPECT_EQ(env.client_address, "192.0.2.7");
  EXPECT_THAT(env.recipients,
              ElementsAre(Field(&EnvelopeRecipient::address, "bob@example.net"),
                          Field(&EnvelopeRecipient::address, "carol@example.org")));
}

TEST(QueueFileTest, ExtractedSegmentRecipientsAreFoundBehindTheContent) {
  QueueFileBuilder content;
  content.Record('N', "To: x@example.com").Record('N', "").Record('N', "text");
  QueueFileBuilder b;
  b.Record('C', absl::StrFormat("%15ld %15ld %15ld", long(content.size()), 0L, 1L));
  b.Record('T', "1700000000 0").Record('S', "").Record('M', "");
  b.mutable_bytes() += content.bytes();
  // A fake 'R' inside the body must not be taken: the content is skipped.
  b.Record('X', "").Record('R', "x@example.com").Record('E', "");
  QueueFileEnvelope env = Envelope(b.bytes());
  EXPECT_EQ(env.error, "");
  EXPECT_EQ(env.sender, "");
  ASSERT_EQ(env.recipients.size(), 1u);
  EXPECT_EQ(env.recipients[0].address, "x@example.com");
}

TEST(QueueFileTest, DoneAndCanceledRecipientsAreNotListed) {
  QueueFileBuilder b;
  b.Record('C', "             10              0              2")
      .Record('T', "1700000000 0")
      .Record('S', "a@example.com")
      .Record('O', "orig@example.com")
      .Record('D', "done@example.com")
      .Record('/', "gone@example.com")
      .Record('O', "list@example.com")
      .Record('R', "todo@example.com")
      .Record('E', "");
  QueueFileEnvelope env = Envelope(b.bytes());
  ASSERT_EQ(env.recipients.size(), 1u);
  EXPECT_EQ(env.recipients[0].address, "todo@example.com");
  EXPECT_EQ(env.recipients[0].orig_address, "list@example.com");
}

TEST(QueueFileTest, MalformedSizeFallsBackAndRecipientBeforeSenderStops) {
  QueueFileBuilder b;
  b.Record('C', "12x").Record('T', "1700000000").Record('R', "early@example.com");
  QueueFileEnvelope env = Envelope(b.bytes());
  EXPECT_FALSE(env.size_ok);
  EXPECT_FALSE(env.sender_seen);
  EXPECT_THAT(env.error, HasSubstr("before the sender"));
}

TEST(QueueFileTest, TruncatedFileKeepsWhatWasReadAndSaysWhy) {
  std::string file = QueueFileBuilder::Simple("a@example.com", {"b@example.com"},
                                              {"Subject: x", "", "y"});
  QueueFileEnvelope env = Envelope(file.substr(0, file.size() - 6));
  EXPECT_TRUE(env.sender_seen);
  EXPECT_FALSE(env.error.empty());
}

TEST(QueueFileTest, ContentJoinsContinuationRecordsAndEndsLinesWithNewline) {
  QueueFileBuilder content;
  content.Record('N', "Subject: x").Record('N', "").Record('L', "long ")
      .Record('N', "line").Record('N', ".dot");
  QueueFileBuilder b;
  b.Record('C', absl::StrFormat("%15ld %15ld %15ld", long(content.size()), 0L, 1L))
      .Record('S', "a@b")
      .Record('M', "");
  b.mutable_bytes() += content.bytes();
  b.Record('X', "").Record('E', "");
  EXPECT_EQ(Content(b.bytes()), "Subject: x\n\nlong line\n.dot\n");
}

TEST(QueueFileTest, ContentFollowsPointerRecordsLikeMilterEdits) {
  // Content whose second line was moved to the heap behind 'E' and is
  // reached through a pointer, then a pointer back.
  QueueFileBuilder b;
  b.Record('C', "              0              0              1").Record('S', "a@b");
  b.Record('M', "");
  b.Record('N', "first");
  size_t ptr_at = b.size();
  b.Record('p', "000000000000000");  // patched below
  size_t back_to = b.size();
  b.Record('N', "third").Record('X', "").Record('E', "");
  size_t heap_at = b.size();
  b.Record('N', "second").Record('p', absl::StrFormat("%15ld", long(back_to)));
  std::string bytes = b.bytes();
  std::string target = absl::StrFormat("%15ld", long(heap_at));
  bytes.replace(ptr_at + 2, 15, target);
  EXPECT_EQ(Content(bytes), "first\nsecond\nthird\n");
}

TEST(QueueFileTest, LargeContentComesInBoundedChunks) {
  std::vector<std::string> lines(5000, std::string(99, 'z'));
  std::string file = QueueFileBuilder::Simple("a@b", {"c@d"}, lines);
  std::string content = Content(file);
  EXPECT_EQ(content.size(), 5000u * 100u);
}

}  // namespace
}  // namespace mailfleet::postfix
