// SpoolWriter on a real directory tree, read back by SpoolReader: what the
// writer puts down is what the reader lists, damaged items are listed or
// ignored as the reader defines, and a reader scanning while the MPA
// writes, moves and removes items never sees one half-way.
#include "agent/mpa/spool_writer.h"

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/mpa/spool_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace mailfleet::mpa {
namespace {

using ::testing::HasSubstr;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// The real filesystem, with one step run right after a chosen path is
// stat'ed: puts a writer's move exactly between the reader's stat of an
// item's .eml and its read of the .env.
class InterleavingFilesystem : public RealFilesystem {
 public:
  void AfterStat(std::string path, std::function<void()> step) {
    path_ = std::move(path);
    step_ = std::move(step);
  }
  absl::StatusOr<FileInfo> Stat(const std::string& path) override {
    absl::StatusOr<FileInfo> info = RealFilesystem::Stat(path);
    if (step_ && path == path_) {
      auto step = std::move(step_);
      step_ = nullptr;
      step();
    }
    return info;
  }

 private:
  std::string path_;
  std::function<void()> step_;
};

// Keeps what a scan lists, by queue and id.
class Listing : public postfix::ScanSink {
 public:
  void OnMessage(const Message& m) override { messages.push_back(m); }
  void OnProblem(postfix::ScanProblem p) override {
    problems.push_back(
        absl::StrCat(SpoolDirName(p.queue), "/", p.queue_id, ": ", p.reason));
  }
  std::vector<std::string> Ids() const {
    std::vector<std::string> ids;
    for (const Message& m : messages) {
      ids.push_back(absl::StrCat(SpoolDirName(m.queue), "/", m.queue_id));
    }
    return ids;
  }
  const Message* Find(absl::string_view id) const {
    for (const Message& m : messages) {
      if (m.queue_id == id) return &m;
    }
    return nullptr;
  }
  std::vector<Message> messages;
  std::vector<std::string> problems;
};

class SpoolWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    root_ = dir_.path() + "/spool";  // not there yet: the writer makes it
    writer_ = std::make_unique<SpoolWriter>(root_);
  }

  ::mailfleet::testing::TempDir dir_{"mailfleet-mpa"};

  // A sample item, written to `queue`.
  SampleItem Put(QueueKind queue, uint64_t seed, int64_t index) {
    SampleItem item = MakeSampleItem(seed, index, queue);
    absl::Status s =
        writer_->Write(queue, item.id, item.envelope, item.content);
    EXPECT_TRUE(s.ok()) << s;
    return item;
  }
  Listing Scan(Filesystem& fs) {
    Listing listing;
    SpoolReader reader(&fs, root_);
    EXPECT_TRUE(reader.Scan(&listing).ok());
    return listing;
  }
  bool Exists(const std::string& rel) {
    return std::filesystem::exists(root_ + "/" + rel);
  }
  std::vector<std::string> TmpFiles() {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(root_ + "/tmp")) {
      names.push_back(e.path().filename());
    }
    return names;
  }
  SpoolEnvelope EnvelopeOf(const std::string& rel) {
    std::string text;
    EXPECT_TRUE(fs_.ReadFile(root_ + "/" + rel, kMaxEnvelopeBytes, &text).ok());
    absl::StatusOr<SpoolEnvelope> env = ParseSpoolEnvelope(text);
    EXPECT_TRUE(env.ok()) << env.status();
    return env.ok() ? *env : SpoolEnvelope();
  }

  std::string root_;
  std::unique_ptr<SpoolWriter> writer_;
  RealFilesystem fs_;
};

void ExpectSameItem(const Message& m, const SampleItem& item) {
  EXPECT_EQ(m.sender, item.envelope.sender);
  EXPECT_EQ(m.arrival_time, item.envelope.received);
  EXPECT_EQ(m.size, static_cast<int64_t>(item.content.size()));
  EXPECT_EQ(m.parse_error, "");
  EXPECT_EQ(m.mpa_error, item.envelope.error);
  EXPECT_EQ(m.mpa_attempts, item.envelope.attempts);
  std::vector<std::string> recipients;
  for (const Recipient& r : m.recipients) {
    recipients.push_back(r.address);
    EXPECT_EQ(r.delay_reason, item.envelope.error);
  }
  EXPECT_EQ(recipients, item.envelope.recipients);
}

TEST_F(SpoolWriterTest, WrittenItemsReadBackUnchanged) {
  std::vector<std::pair<QueueKind, SampleItem>> items;
  for (int64_t i = 0; i < 40; ++i) {
    const QueueKind queue = kSpoolQueues[i % 4];
    items.emplace_back(queue, Put(queue, 7, i));
  }
  Listing listing = Scan(fs_);
  EXPECT_THAT(listing.problems, IsEmpty());
  ASSERT_EQ(listing.messages.size(), items.size());
  for (const auto& [queue, item] : items) {
    const Message* m = listing.Find(item.id);
    ASSERT_NE(m, nullptr) << item.id;
    EXPECT_EQ(m->queue, queue);
    ExpectSameItem(*m, item);
  }
  EXPECT_THAT(TmpFiles(), IsEmpty());
}

TEST_F(SpoolWriterTest, NullSenderAndErrorReasonSurviveTheRoundTrip) {
  SampleItem item = MakeSampleItem(3, 0, QueueKind::kMpaError);
  for (int64_t i = 1; !item.envelope.sender.empty(); ++i) {
    item = MakeSampleItem(3, i, QueueKind::kMpaError);
  }
  ASSERT_FALSE(item.envelope.error.empty());
  ASSERT_GT(item.envelope.attempts, 0);
  ASSERT_TRUE(
      writer_->Write(QueueKind::kMpaError, item.id, item.envelope, item.content)
          .ok());
  SpoolReader reader(&fs_, root_);
  absl::StatusOr<Message> m = reader.ReadItem(QueueKind::kMpaError, item.id);
  ASSERT_TRUE(m.ok()) << m.status();
  ExpectSameItem(*m, item);
}

TEST_F(SpoolWriterTest, WriteRefusesBadIdsOtherQueuesAndExistingItems) {
  const SampleItem item = MakeSampleItem(1, 1, QueueKind::kMpaSpool);
  EXPECT_EQ(
      writer_->Write(QueueKind::kMpaSpool, "../x", item.envelope, "x").code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      writer_->Write(QueueKind::kDeferred, "x", item.envelope, "x").code(),
      absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(
      writer_->Write(QueueKind::kMpaSpool, "x", item.envelope, "1").ok());
  EXPECT_EQ(
      writer_->Write(QueueKind::kMpaSpool, "x", item.envelope, "2").code(),
      absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(Exists("../x.eml"));
}

TEST_F(SpoolWriterTest, MoveChangesTheQueueAndTheEnvelopeOnly) {
  const SampleItem item = Put(QueueKind::kMpaSpool, 5, 9);
  const std::string reason = "DLP: policy 'pci' matched, quarantine required";
  ASSERT_TRUE(writer_
                  ->Move(QueueKind::kMpaSpool, QueueKind::kMpaError, item.id,
                         {reason, 2})
                  .ok());
  EXPECT_FALSE(Exists("spool/" + item.id + ".eml"));
  EXPECT_FALSE(Exists("spool/" + item.id + ".env"));
  Listing listing = Scan(fs_);
  EXPECT_THAT(listing.Ids(), UnorderedElementsAre("error/" + item.id));
  SampleItem moved = item;
  moved.envelope.error = reason;
  moved.envelope.attempts = 2;
  ExpectSameItem(listing.messages.at(0), moved);

  // Unset fields are kept; "" clears the error.
  ASSERT_TRUE(writer_
                  ->Move(QueueKind::kMpaError, QueueKind::kMpaOutgoing, item.id,
                         {std::string(), std::nullopt})
                  .ok());
  const SpoolEnvelope out = EnvelopeOf("outgoing/" + item.id + ".env");
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.attempts, 2);
  EXPECT_THAT(TmpFiles(), IsEmpty());
}

TEST_F(SpoolWriterTest, MoveOfAMissingItemChangesNothing) {
  const SampleItem item = Put(QueueKind::kMpaSpool, 5, 1);
  EXPECT_EQ(writer_->Move(QueueKind::kMpaError, QueueKind::kMpaRespool, item.id)
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(
      writer_->Move(QueueKind::kMpaSpool, QueueKind::kMpaSpool, item.id).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Scan(fs_).Ids(), UnorderedElementsAre("spool/" + item.id));
  EXPECT_FALSE(Exists("respool/" + item.id + ".env"));
}

TEST_F(SpoolWriterTest, RemoveDeletesBothFiles) {
  const SampleItem item = Put(QueueKind::kMpaOutgoing, 5, 2);
  ASSERT_TRUE(writer_->Remove(QueueKind::kMpaOutgoing, item.id).ok());
  EXPECT_FALSE(Exists("outgoing/" + item.id + ".eml"));
  EXPECT_FALSE(Exists("outgoing/" + item.id + ".env"));
  EXPECT_EQ(writer_->Remove(QueueKind::kMpaOutgoing, item.id).code(),
            absl::StatusCode::kNotFound);
}

TEST_F(SpoolWriterTest, DamagedItemsAreListedWithTheirFaultOrIgnored) {
  ASSERT_TRUE(WriteDamagedItems(*writer_, QueueKind::kMpaError).ok());
  ASSERT_TRUE(Exists("error/bad id.eml"));
  ASSERT_TRUE(Exists("tmp/damaged-in-tmp.eml"));
  Listing listing = Scan(fs_);
  // Not listed: damaged-env-only (no .eml yet), "bad id" (no valid id),
  // tmp/damaged-in-tmp (still being written).
  EXPECT_THAT(listing.Ids(),
              UnorderedElementsAre(
                  "error/damaged-no-env", "error/damaged-truncated-env",
                  "error/damaged-bad-received", "error/damaged-no-recipient"));
  EXPECT_EQ(listing.problems.size(), 4u);
  auto fault = [&](absl::string_view id) {
    const Message* m = listing.Find(id);
    return m ? m->parse_error : "(not listed)";
  };
  EXPECT_EQ(fault("damaged-no-env"), "no envelope (.env)");
  EXPECT_THAT(fault("damaged-truncated-env"),
              HasSubstr("line 3: not \"key: value\""));
  EXPECT_THAT(fault("damaged-bad-received"),
              HasSubstr("received is not an RFC 3339 time"));
  EXPECT_EQ(fault("damaged-no-recipient"), "envelope has no recipient");
}

TEST_F(SpoolWriterTest, SampleItemsAreRepeatableAndPlausible) {
  EXPECT_EQ(MakeSampleItem(9, 4, QueueKind::kMpaError).content,
            MakeSampleItem(9, 4, QueueKind::kMpaError).content);
  std::set<std::string> domains;
  for (int64_t i = 0; i < 200; ++i) {
    const SampleItem item = MakeSampleItem(9, i, QueueKind::kMpaError);
    EXPECT_TRUE(ValidateSpoolId(item.id).ok()) << item.id;
    EXPECT_GE(item.envelope.recipients.size(), 1u);
    EXPECT_LE(item.envelope.recipients.size(), 3u);
    for (const std::string& r : item.envelope.recipients) {
      domains.insert(r.substr(r.find('@') + 1));
    }
    EXPECT_FALSE(item.envelope.error.empty());
    EXPECT_GE(item.envelope.attempts, 1);
    EXPECT_GE(item.content.size(), 1024u);
    EXPECT_LE(item.content.size(), 9 * 1024u);
    EXPECT_TRUE(absl::StrContains(item.content, "\r\n\r\n")) << item.id;
    EXPECT_TRUE(ParseSpoolEnvelope(FormatSpoolEnvelope(item.envelope)).ok());
  }
  EXPECT_GE(domains.size(), 5u);
  const SampleItem spool = MakeSampleItem(9, 4, QueueKind::kMpaSpool);
  EXPECT_EQ(spool.envelope.error, "");
  EXPECT_EQ(spool.envelope.attempts, 0);
}

// The reader stats an item's .eml, then reads its .env. The MPA moving the
// item between the two (new .env in the target, .eml renamed across, old
// .env unlinked) must read as the item having left, not as an item without
// an envelope: it is complete in the other queue at every instant.
TEST_F(SpoolWriterTest, ItemMovedBetweenTheReadersTwoReadsIsNotDamaged) {
  const SampleItem item = Put(QueueKind::kMpaSpool, 2, 1);
  InterleavingFilesystem fs;
  fs.AfterStat(root_ + "/spool/" + item.id + ".eml", [&] {
    ASSERT_TRUE(writer_
                    ->Move(QueueKind::kMpaSpool, QueueKind::kMpaOutgoing,
                           item.id, {std::string(), std::nullopt})
                    .ok());
  });
  Listing listing = Scan(fs);
  // spool is listed before outgoing (the direction items move), so the
  // scan finds the item where it went. What it must not do is list it
  // damaged in spool.
  EXPECT_THAT(listing.problems, IsEmpty())
      << "SpoolReader::Read stat'ed spool/" << item.id
      << ".eml, the item moved to outgoing, then the reader found no "
         "spool/"
      << item.id
      << ".env and listed the item as damaged; on a "
         "missing .env it must stat the .eml again and skip the item if the "
         ".eml is gone";
  EXPECT_THAT(listing.Ids(), ElementsAre("outgoing/" + item.id));
}

TEST_F(SpoolWriterTest, ItemRemovedBetweenTheReadersTwoReadsIsNotDamaged) {
  const SampleItem item = Put(QueueKind::kMpaOutgoing, 2, 2);
  InterleavingFilesystem fs;
  fs.AfterStat(root_ + "/outgoing/" + item.id + ".eml", [&] {
    ASSERT_TRUE(writer_->Remove(QueueKind::kMpaOutgoing, item.id).ok());
  });
  Listing listing = Scan(fs);
  EXPECT_THAT(listing.problems, IsEmpty())
      << "SpoolReader::Read stat'ed outgoing/" << item.id
      << ".eml, the MPA handed the item to Postfix (unlinked .eml, then "
         ".env), and the reader listed it as damaged instead of gone";
  EXPECT_THAT(listing.Ids(), IsEmpty());
}

// Records every item a scan lists that is not whole: a parse error or no
// recipient. The MPA only ever writes whole items.
class HalfSeen : public postfix::ScanSink {
 public:
  void OnMessage(const Message& m) override {
    ++listed;
    if (m.parse_error.empty() && !m.recipients.empty()) return;
    if (examples.size() < 5) {
      examples.push_back(absl::StrCat(
          SpoolDirName(m.queue), "/", m.queue_id, " (",
          m.parse_error.empty() ? "no recipient" : m.parse_error, ")"));
    }
    ++half_seen;
  }
  void OnProblem(postfix::ScanProblem) override {}
  int64_t listed = 0;
  int64_t half_seen = 0;
  std::vector<std::string> examples;
};

TEST_F(SpoolWriterTest, ScansWhileTheMpaWorksNeverSeeAnItemHalfWay) {
  constexpr int kItems = 3000;
  // Each item is written to spool, moved on (one in five to error with a
  // reason, the rest to outgoing) a few items later, and removed from
  // outgoing a few after that, as the MPA hands it to Postfix.
  constexpr int kProcessLag = 8, kHandOverLag = 16;
  std::atomic<bool> done{false};
  absl::Status writer_status;
  std::thread mpa([&] {
    auto to_error = [](int i) { return i % 5 == 0; };
    auto id = [](int i) {
      return MakeSampleItem(11, i, QueueKind::kMpaSpool).id;
    };
    for (int i = 0; i < kItems + kHandOverLag && writer_status.ok(); ++i) {
      if (i < kItems) {
        const SampleItem item = MakeSampleItem(11, i, QueueKind::kMpaSpool);
        writer_status = writer_->Write(QueueKind::kMpaSpool, item.id,
                                       item.envelope, item.content);
      }
      const int process = i - kProcessLag;
      if (writer_status.ok() && process >= 0 && process < kItems) {
        const SpoolEnvelope env =
            MakeSampleItem(11, process, QueueKind::kMpaSpool).envelope;
        writer_status =
            to_error(process)
                ? writer_->Move(QueueKind::kMpaSpool, QueueKind::kMpaError,
                                id(process),
                                {SampleErrorReason(env, process), 1})
                : writer_->Move(QueueKind::kMpaSpool, QueueKind::kMpaOutgoing,
                                id(process));
      }
      const int hand_over = i - kHandOverLag;
      if (writer_status.ok() && hand_over >= 0 && !to_error(hand_over)) {
        writer_status = writer_->Remove(QueueKind::kMpaOutgoing, id(hand_over));
      }
    }
    done = true;
  });
  HalfSeen sink;
  int scans = 0;
  SpoolReader reader(&fs_, root_);
  while (!done) {
    ASSERT_TRUE(reader.Scan(&sink).ok());
    ++scans;
  }
  mpa.join();
  ASSERT_TRUE(writer_status.ok()) << writer_status;
  Listing after = Scan(fs_);
  EXPECT_EQ(after.messages.size(), static_cast<size_t>(kItems / 5));
  EXPECT_THAT(after.problems, IsEmpty());
  EXPECT_GT(scans, 1);
  EXPECT_EQ(sink.half_seen, 0)
      << sink.half_seen << " of " << sink.listed << " items listed in " << scans
      << " scans were listed damaged while the MPA moved or removed them, e.g. "
      << absl::StrJoin(sink.examples, "; ")
      << ". SpoolReader::Read stats <id>.eml, then reads <id>.env: a move "
         "(.eml renamed away, then the old .env unlinked) or a removal (.eml, "
         "then .env unlinked) between the two reads as \"no envelope\".";
}

}  // namespace
}  // namespace mailfleet::mpa
