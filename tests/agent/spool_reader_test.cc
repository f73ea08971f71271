#include "agent/mpa/spool_reader.h"

#include "agent/mpa/spool_item.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_filesystem.h"

namespace mailfleet::mpa {
namespace {

using ::mailfleet::testing::FakeFilesystem;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

const absl::Time kReceived = absl::FromUnixSeconds(1764494100);

class Collect : public postfix::ScanSink {
 public:
  void OnMessage(const Message& m) override { messages.push_back(m); }
  void OnProblem(postfix::ScanProblem p) override { problems.push_back(p); }
  std::vector<Message> messages;
  std::vector<postfix::ScanProblem> problems;
};

class SpoolReaderTest : public ::testing::Test {
 protected:
  void AddItem(const std::string& queue, const std::string& id,
               const std::string& error = "", size_t eml_bytes = 100) {
    SpoolEnvelope env;
    env.sender = "alice@example.com";
    env.recipients = {"bob@example.net", "carol@example.org"};
    env.received = kReceived;
    env.error = error;
    fs_.AddFile("/spool/" + queue + "/" + id + ".env", FormatSpoolEnvelope(env));
    fs_.AddFile("/spool/" + queue + "/" + id + ".eml", std::string(eml_bytes, 'x'));
  }

  Collect Scan() {
    Collect c;
    EXPECT_TRUE(reader_.Scan(&c).ok());
    return c;
  }

  FakeFilesystem fs_;
  SpoolReader reader_{&fs_, "/spool"};
};

TEST_F(SpoolReaderTest, ReadsTheFourQueuesIntoMessages) {
  AddItem("outgoing", "out-1");
  AddItem("error", "err-1", "template \"invoice\" is invalid", 2048);
  AddItem("spool", "sp-1");
  AddItem("respool", "re-1");
  Collect c = Scan();
  EXPECT_TRUE(c.problems.empty());
  ASSERT_EQ(c.messages.size(), 4u);
  for (const Message& m : c.messages) {
    if (m.queue_id != "err-1") continue;
    EXPECT_EQ(m.queue, QueueKind::kMpaError);
    EXPECT_EQ(m.size, 2048);
    EXPECT_EQ(m.arrival_time, kReceived);
    EXPECT_EQ(m.sender, "alice@example.com");
    ASSERT_EQ(m.recipients.size(), 2u);
    EXPECT_EQ(m.recipients[1].address, "carol@example.org");
    EXPECT_EQ(m.recipients[1].delay_reason, "template \"invoice\" is invalid");
    EXPECT_EQ(m.parse_error, "");
  }
  std::vector<QueueKind> queues;
  for (const Message& m : c.messages) queues.push_back(m.queue);
  EXPECT_THAT(queues, UnorderedElementsAre(QueueKind::kMpaOutgoing, QueueKind::kMpaError,
                                           QueueKind::kMpaSpool, QueueKind::kMpaRespool));
}

TEST_F(SpoolReaderTest, IgnoresTmpHalfWrittenItemsAndStrayNames) {
  AddItem("spool", "ok");
  fs_.AddFile("/spool/tmp/inflight.eml", "x");
  fs_.AddFile("/spool/tmp/inflight.env", "sender: a\n");
  // The envelope is written first: without its .eml there is no item yet.
  fs_.AddFile("/spool/spool/coming.env", "sender: a@b\n");
  fs_.AddFile("/spool/spool/bad name.eml", "x");
  fs_.AddFile("/spool/spool/notes.txt", "x");
  Collect c = Scan();
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0].queue_id, "ok");
  EXPECT_TRUE(c.problems.empty());
}

TEST_F(SpoolReaderTest, DamagedItemsAreListedAndReportedNeverFatal) {
  fs_.AddFile("/spool/error/noenv.eml", std::string(10, 'x'), 0600,
              absl::FromUnixSeconds(1764000000));
  fs_.AddFile("/spool/error/garbled.eml", "x");
  fs_.AddFile("/spool/error/garbled.env", "sender: a@b\nrecipient a@b\n");
  AddItem("error", "fine");
  Collect c = Scan();
  ASSERT_EQ(c.messages.size(), 3u);
  ASSERT_EQ(c.problems.size(), 2u);
  for (const Message& m : c.messages) {
    if (m.queue_id == "noenv") {
      EXPECT_EQ(m.parse_error, "no envelope (.env)");
      EXPECT_EQ(m.arrival_time, absl::FromUnixSeconds(1764000000));  // the .eml's
      EXPECT_EQ(m.size, 10);
    } else if (m.queue_id == "garbled") {
      EXPECT_THAT(m.parse_error, HasSubstr("line 2: not \"key: value\""));
    } else {
      EXPECT_EQ(m.parse_error, "");
    }
  }
  for (const auto& p : c.problems) EXPECT_EQ(p.queue, QueueKind::kMpaError);
}

TEST_F(SpoolReaderTest, ReadsOneItemAndSaysWhenItIsNotThere) {
  AddItem("error", "err-1", "decryption failed");
  auto m = reader_.ReadItem(QueueKind::kMpaError, "err-1");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->recipients[0].delay_reason, "decryption failed");
  auto gone = reader_.ReadItem(QueueKind::kMpaRespool, "err-1");
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(reader_.ItemPath(QueueKind::kMpaRespool, "err-1", ".env"),
            "/spool/respool/err-1.env");
}

TEST_F(SpoolReaderTest, AMissingSpoolIsEmpty) {
  Collect c = Scan();
  EXPECT_TRUE(c.messages.empty());
}

}  // namespace
}  // namespace mailfleet::mpa
