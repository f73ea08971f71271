#include "agent/postfix/queue_reader.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_filesystem.h"
#include "tests/testing/queue_file_builder.h"

namespace mailfleet::postfix {
namespace {

using ::mailfleet::testing::FakeFilesystem;
using ::mailfleet::testing::QueueFileBuilder;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kQ[] = "/q";

class QueueReaderTest : public ::testing::Test {
 protected:
  QueueReaderTest() {
    config_.queue_directory = kQ;
    for (const char* q : {"maildrop", "incoming", "active", "deferred", "hold",
                          "corrupt", "defer"}) {
      fs_.AddDir(std::string(kQ) + "/" + q);
    }
    fs_.AddDir(kQ);
  }

  ScanResult Scan(int threads = 2) {
    QueueReader reader(&fs_, config_, threads);
    auto r = reader.ScanAll();
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : ScanResult{};
  }

  const Message* FindIn(const ScanResult& r, const std::string& id) {
    for (const auto& m : r.messages) {
      if (m.queue_id == id) return &m;
    }
    return nullptr;
  }

  FakeFilesystem fs_;
  PostfixConfig config_;
};

TEST_F(QueueReaderTest, WalksHashedAndFlatQueues) {
  std::string f = QueueFileBuilder::Simple("a@example.com", {"b@example.net"},
                                           {"x"});
  fs_.AddFile("/q/deferred/C/C3CD21F3E90", f, 0700, absl::FromUnixSeconds(1800000000));
  fs_.AddFile("/q/hold/4B2F1A0001", f);
  fs_.AddFile("/q/incoming/5A1B2C0002", f);
  fs_.AddFile("/q/maildrop/6A1B2C0003", f);
  ScanResult r = Scan();
  EXPECT_TRUE(r.problems.empty());
  ASSERT_EQ(r.messages.size(), 4u);
  const Message* d = FindIn(r, "C3CD21F3E90");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->queue, QueueKind::kDeferred);
  EXPECT_EQ(d->next_attempt_time, absl::FromUnixSeconds(1800000000));
  EXPECT_EQ(d->arrival_time, absl::FromUnixSeconds(1700000000) + absl::Microseconds(123456));
  EXPECT_EQ(FindIn(r, "4B2F1A0001")->queue, QueueKind::kHold);
  EXPECT_EQ(FindIn(r, "4B2F1A0001")->next_attempt_time, absl::InfinitePast());
}

TEST_F(QueueReaderTest, FilesBeingWrittenAndTempNamesAreSkippedSilently) {
  std::string f = QueueFileBuilder::Simple("a@b", {"c@d"}, {"x"});
  fs_.AddFile("/q/incoming/7A1B2C0004", f, 0600);  // cleanup still writing
  fs_.AddFile("/q/maildrop/123456.789", f);         // postdrop temp name
  ScanResult r = Scan();
  EXPECT_TRUE(r.messages.empty());
  EXPECT_TRUE(r.problems.empty());
}

TEST_F(QueueReaderTest, VanishedFileIsSkippedButUnreadableOneIsReported) {
  std::string f = QueueFileBuilder::Simple("a@b", {"c@d"}, {"x"});
  fs_.AddFile("/q/active/8A1B2C0005", f);
  fs_.FailOpen("/q/active/8A1B2C0005", absl::NotFoundError("gone"));
  fs_.AddFile("/q/active/9A1B2C0006", f);
  fs_.FailOpen("/q/active/9A1B2C0006", absl::PermissionDeniedError("denied"));
  fs_.AddFile("/q/active/AA1B2C0007", "garbage that is not a queue file");
  fs_.AddFile("/q/active/BA1B2C0008", f);
  ScanResult r = Scan();
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].queue_id, "BA1B2C0008");
  ASSERT_EQ(r.problems.size(), 2u);
  std::vector<std::string> ids = {r.problems[0].queue_id, r.problems[1].queue_id};
  EXPECT_THAT(ids, UnorderedElementsAre("9A1B2C0006", "AA1B2C0007"));
}

TEST_F(QueueReaderTest, DelayReasonsComeFirstAndAreNotRepeated) {
  std::string f = QueueFileBuilder::Simple(
      "", {"bob@example.net", "new@example.org", "odd one@example.org"}, {"x"});
  fs_.AddFile("/q/deferred/D/DA1B2C0009", f);
  fs_.AddFile("/q/defer/D/DA1B2C0009",
              "recipient=bob@example.net\nreason=connection refused\n\n");
  ScanResult r = Scan();
  ASSERT_EQ(r.messages.size(), 1u);
  const Message& m = r.messages[0];
  EXPECT_EQ(m.sender, "MAILER-DAEMON");
  ASSERT_EQ(m.recipients.size(), 3u);
  EXPECT_EQ(m.recipients[0].address, "bob@example.net");
  EXPECT_EQ(m.recipients[0].delay_reason, "connection refused");
  EXPECT_EQ(m.recipients[1].address, "new@example.org");
  EXPECT_EQ(m.recipients[1].delay_reason, "");
  EXPECT_EQ(m.recipients[2].address, "\"odd one\"@example.org");
}

TEST_F(QueueReaderTest, SizeComesFromTheSizeRecordElseTheFile) {
  std::string f = QueueFileBuilder::Simple("a@b", {"c@d"}, {"1234567890"});
  fs_.AddFile("/q/hold/EA1B2C000A", f);
  QueueFileBuilder nosize;
  nosize.Record('T', "1700000000 0").Record('S', "a@b").Record('R', "c@d").Record('E', "");
  fs_.AddFile("/q/maildrop/FA1B2C000B", nosize.bytes());
  ScanResult r = Scan();
  EXPECT_EQ(FindIn(r, "EA1B2C000A")->size, 12);  // one 'N' record: 2 + 10 bytes
  EXPECT_EQ(FindIn(r, "FA1B2C000B")->size, static_cast<int64_t>(nosize.size()));
}

TEST_F(QueueReaderTest, ForcedExpireComesFromTheGroupExecuteBit) {
  std::string f = QueueFileBuilder::Simple("a@b", {"c@d"}, {"x"});
  fs_.AddFile("/q/deferred/1/1A1B2C000C", f, 0710);
  ScanResult r = Scan();
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_TRUE(r.messages[0].forced_expire);
}

TEST_F(QueueReaderTest, ManyFilesOnSeveralThreadsAreAllRead) {
  std::string f = QueueFileBuilder::Simple("a@b", {"c@d"}, {"x"});
  for (int i = 0; i < 3000; ++i) {
    std::string id = absl::StrFormat("%05X%X", i, 0xABC00 + i);
    fs_.AddFile(absl::StrCat("/q/deferred/", id.substr(0, 1), "/", id), f);
  }
  EXPECT_EQ(Scan(4).messages.size(), 3000u);
}

TEST_F(QueueReaderTest, ReadMessageFindsAMessageThatMoved) {
  std::string f = QueueFileBuilder::Simple("a@b", {"c@d"}, {"x"});
  fs_.AddFile("/q/hold/2A1B2C000D", f);
  QueueReader reader(&fs_, config_);
  auto m = reader.ReadMessage("2A1B2C000D", QueueKind::kDeferred);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->queue, QueueKind::kHold);
  EXPECT_TRUE(absl::IsNotFound(reader.ReadMessage("3A1B2C000E", std::nullopt).status()));
}

TEST_F(QueueReaderTest, MessagePathHashesShortAndLongIds) {
  QueueReader reader(&fs_, config_);
  EXPECT_EQ(reader.MessagePath(QueueKind::kDeferred, "C3CD21F3E90"),
            "/q/deferred/C/C3CD21F3E90");
  // Long id: the 4 characters before the last 'z' are base-52 microseconds
  // (here "N2VX" = 353025 = 0x562C1), hashed by their hex form.
  EXPECT_EQ(reader.MessagePath(QueueKind::kDeferred, "3Pt2mN2VXxznjll"),
            "/q/deferred/5/3Pt2mN2VXxznjll");
  EXPECT_EQ(reader.MessagePath(QueueKind::kHold, "C3CD21F3E90"), "/q/hold/C3CD21F3E90");
}

TEST_F(QueueReaderTest, MissingQueueDirectoryIsAnError) {
  config_.queue_directory = "/nowhere";
  QueueReader reader(&fs_, config_);
  EXPECT_FALSE(reader.ScanAll().ok());
}

}  // namespace
}  // namespace mailfleet::postfix
