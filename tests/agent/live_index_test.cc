// The live index: snapshots changed in place of a rescan, the index's
// batches, and the monitor that turns directory events into them, on a fake
// queue directory and a fake watcher.
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "agent/index/queue_index.h"
#include "agent/index/queue_monitor.h"
#include "agent/index/queue_snapshot.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_dir_watcher.h"
#include "tests/testing/fake_filesystem.h"
#include "tests/testing/queue_file_builder.h"

namespace mailfleet {
namespace {

using ::mailfleet::testing::FakeDirWatcher;
using ::mailfleet::testing::FakeFilesystem;
using ::mailfleet::testing::QueueFileBuilder;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using Kind = IndexChange::Kind;

const absl::Time kNow = absl::FromUnixSeconds(1700100000);

Message Msg(std::string id, QueueKind q, absl::Duration age,
            std::vector<Recipient> rcpts) {
  Message m;
  m.queue_id = std::move(id);
  m.queue = q;
  m.arrival_time = kNow - age;
  m.size = 1000;
  m.sender = "sender@example.com";
  m.recipients = std::move(rcpts);
  return m;
}

std::shared_ptr<const QueueSnapshot> Base() {
  postfix::ScanResult scan;
  scan.messages = {
      Msg("AAAAAA01", QueueKind::kDeferred, absl::Minutes(3),
          {{"a@one.example", "", "refused"}}),
      Msg("AAAAAA02", QueueKind::kDeferred, absl::Hours(30),
          {{"c@one.example", "", "timeout"}}),
      Msg("AAAAAA03", QueueKind::kHold, absl::Minutes(15), {{"d@two.example", "", ""}}),
  };
  return QueueSnapshot::Build(std::move(scan), 1);
}

std::vector<std::string> Listed(const QueueSnapshot& s) {
  std::vector<std::string> ids;
  s.List(Filter(), kNow, nullptr, 1000,
         [&](const QueueSnapshot::View& v) { ids.emplace_back(v.id()); });
  return ids;
}

std::string Describe(const IndexChange& c) {
  const char* kind = c.kind == Kind::kAdded     ? "added"
                     : c.kind == Kind::kRemoved ? "removed"
                     : c.kind == Kind::kMoved   ? "moved"
                                                : "changed";
  return absl::StrCat(kind, " ", c.queue_id, " ", QueueKindName(c.from), "->",
                      QueueKindName(c.to));
}

std::vector<std::string> Describe(const std::vector<IndexChange>& changes) {
  std::vector<std::string> out;
  for (const auto& c : changes) out.push_back(Describe(c));
  return out;
}

TEST(LiveSnapshotTest, AddedMessagesBringNewStringsWithoutTouchingTheOld) {
  auto base = Base();
  Message fresh = Msg("BBBBBB01", QueueKind::kIncoming, absl::Minutes(1),
                      {{"x@new.example", "orig@new.example", "brand new reason"}});
  fresh.client_address = "192.0.2.9";
  auto next = base->WithChanges({fresh}, {}, 2);
  EXPECT_EQ(next->generation(), 2);
  EXPECT_THAT(Listed(*base), ElementsAre("AAAAAA02", "AAAAAA03", "AAAAAA01"));
  EXPECT_THAT(Listed(*next),
              ElementsAre("AAAAAA02", "AAAAAA03", "AAAAAA01", "BBBBBB01"));
  auto v = next->Find(QueueSource::kPostfix, "BBBBBB01");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->client(), "192.0.2.9");
  EXPECT_EQ(v->recipient_orig_address(0), "orig@new.example");
  EXPECT_EQ(v->recipient_delay_reason(0), "brand new reason");
  EXPECT_FALSE(base->Find(QueueSource::kPostfix, "BBBBBB01").has_value());
  QueueSummary sum = next->Summarize(Filter(), kNow, 10);
  EXPECT_EQ(sum.total_messages, 4);
  ASSERT_EQ(sum.top_domains.size(), 3u);
  EXPECT_EQ(sum.top_domains[0].domain, "one.example");
  EXPECT_EQ(sum.top_domains[1].domain, "new.example");  // ties by name
  EXPECT_EQ(sum.top_delay_reasons.size(), 3u);
}

TEST(LiveSnapshotTest, ReplacesRemovesAndPatchesInOneStep) {
  auto base = Base();
  Message changed = Msg("AAAAAA01", QueueKind::kDeferred, absl::Minutes(3),
                        {{"a@one.example", "", "now a timeout"}});
  std::vector<QueueSnapshot::EntryUpdate> updates = {
      {"AAAAAA02", std::nullopt, std::nullopt, false},
      {"AAAAAA03", QueueKind::kDeferred, kNow + absl::Minutes(5), true},
      {"NOSUCHID", QueueKind::kHold, std::nullopt, false},
  };
  auto next = base->WithChanges({changed}, updates, 2);
  EXPECT_THAT(Listed(*next), ElementsAre("AAAAAA03", "AAAAAA01"));
  EXPECT_FALSE(next->Find(QueueSource::kPostfix, "AAAAAA02").has_value());
  EXPECT_EQ(next->Find(QueueSource::kPostfix, "AAAAAA01")->recipient_delay_reason(0), "now a timeout");
  auto held = next->Find(QueueSource::kPostfix, "AAAAAA03");
  EXPECT_EQ(held->queue_kind(), QueueKind::kDeferred);
  EXPECT_TRUE(held->forced_expire());
  EXPECT_EQ(held->recipient_address(0), "d@two.example");
  EXPECT_THAT(Describe(QueueSnapshot::Diff(*base, *next)),
              ElementsAre("changed AAAAAA01 deferred->deferred",
                          "removed AAAAAA02 deferred->unknown",
                          "moved AAAAAA03 hold->deferred"));
}

TEST(LiveSnapshotTest, SnapshotsOfOneFamilyShareTheExtension) {
  auto s1 = Base();
  auto s2 = s1->WithChanges(
      {Msg("BBBBBB01", QueueKind::kActive, absl::Seconds(1), {{"p@q.example", "", ""}})},
      {}, 2);
  auto s3 = s2->WithChanges(
      {Msg("BBBBBB02", QueueKind::kActive, absl::Seconds(1), {{"p@q.example", "", ""}}),
       Msg("BBBBBB01", QueueKind::kDeferred, absl::Seconds(1),
           {{"p@q.example", "", "later"}})},
      {}, 3);
  EXPECT_EQ(s2->Find(QueueSource::kPostfix, "BBBBBB01")->queue_kind(), QueueKind::kActive);
  EXPECT_EQ(s2->Find(QueueSource::kPostfix, "BBBBBB01")->recipient_delay_reason(0), "");
  EXPECT_EQ(s3->Find(QueueSource::kPostfix, "BBBBBB01")->recipient_delay_reason(0), "later");
  EXPECT_EQ(s3->Find(QueueSource::kPostfix, "BBBBBB02")->recipient_address(0), "p@q.example");
  EXPECT_THAT(Describe(QueueSnapshot::Diff(*s2, *s3)),
              ElementsAre("moved BBBBBB01 active->deferred",
                          "added BBBBBB02 unknown->active"));
  // Compacting drops nothing and changes nothing.
  auto compact = s3->Compacted();
  ASSERT_NE(compact, nullptr);
  EXPECT_THAT(QueueSnapshot::Diff(*s3, *compact), IsEmpty());
  EXPECT_EQ(compact->generation(), 3);
}

TEST(LiveSnapshotTest, ManyAdditionsSpanSegmentsAndStayFindable) {
  auto s = Base();
  std::vector<Message> batch;
  for (int i = 0; i < 40000; ++i) {
    batch.push_back(Msg(absl::StrFormat("C%09X", i), QueueKind::kDeferred,
                        absl::Seconds(i % 600),
                        {{absl::StrCat("u", i, "@d", i % 97, ".example"), "",
                          absl::StrCat("reason ", i % 13)}}));
  }
  auto next = s->WithChanges(batch, {}, 2);
  ASSERT_EQ(next->size(), 40003u);
  for (int i = 0; i < 40000; i += 997) {
    auto v = next->Find(QueueSource::kPostfix, absl::StrFormat("C%09X", i));
    ASSERT_TRUE(v.has_value()) << i;
    EXPECT_EQ(v->recipient_address(0), absl::StrCat("u", i, "@d", i % 97, ".example"));
  }
  QueueSummary sum = next->Summarize(Filter(), kNow, 200);
  EXPECT_EQ(sum.top_domains.size(), 99u);
  EXPECT_EQ(sum.top_delay_reasons.size(), 15u);
  EXPECT_LT(next->ExtensionBytes(), size_t{40} << 20);
}

TEST(LiveSnapshotTest, MergedBatchesSayOnceWhatChangedOverAll) {
  auto s1 = Base();
  auto s2 = s1->WithChanges(
      {Msg("BBBBBB01", QueueKind::kIncoming, absl::Seconds(1), {{"p@q.example", "", ""}})},
      {{"AAAAAA03", QueueKind::kDeferred, std::nullopt, false}}, 2);
  auto s3 = s2->WithChanges(
      {}, {{"BBBBBB01", QueueKind::kDeferred, std::nullopt, false},
           {"AAAAAA03", QueueKind::kHold, std::nullopt, false}}, 3);
  auto b2 = std::make_shared<IndexBatch>();
  b2->generation = 2;
  b2->before = s1;
  b2->after = s2;
  b2->changes = QueueSnapshot::Diff(*s1, *s2);
  auto b3 = std::make_shared<IndexBatch>();
  b3->generation = 3;
  b3->before = s2;
  b3->after = s3;
  b3->changes = QueueSnapshot::Diff(*s2, *s3);
  auto merged = MergeBatches({b2, b3});
  EXPECT_EQ(merged->generation, 3);
  // AAAAAA03 went to deferred and back: nothing to tell.
  EXPECT_THAT(Describe(merged->changes),
              ElementsAre("added BBBBBB01 unknown->deferred"));
  EXPECT_EQ(MergeBatches({b2}), b2);
}

// A fake queue directory with the live index and its monitor over it.
class LiveIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_.AddDir("/q");
    for (const char* q : {"maildrop", "incoming", "active", "deferred", "hold",
                          "corrupt", "defer"}) {
      fs_.AddDir(absl::StrCat("/q/", q));
    }
    config_.queue_directory = "/q";
    reader_ = std::make_unique<postfix::QueueReader>(&fs_, config_, 1);
    index_ = std::make_unique<QueueIndex>(reader_.get());
    index_->AddListener([this](std::shared_ptr<const IndexBatch> b) {
      absl::MutexLock lock(&mu_);
      batches_.push_back(std::move(b));
    });
  }

  void StartMonitor(absl::Duration window = absl::Milliseconds(50),
                    absl::Duration rescan = absl::Hours(1),
                    absl::Duration idle_rescan = absl::Hours(1)) {
    monitor_ = std::make_unique<QueueMonitor>(
        index_.get(), &fs_, &watcher_, MonitorOptions{window, rescan, idle_rescan});
    ASSERT_TRUE(monitor_->Start().ok());
    absl::MutexLock lock(&mu_);
    batches_.clear();  // the first scan's
  }

  void TearDown() override {
    if (monitor_) monitor_->Stop();
  }

  static std::string File(const std::string& rcpt = "r@x.example") {
    return QueueFileBuilder::Simple("s@example.com", {rcpt}, {"hello"});
  }

  // Waits for `n` batches after those already taken.
  std::vector<std::shared_ptr<const IndexBatch>> Batches(
      size_t n, absl::Duration timeout = absl::Seconds(5)) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return batches_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
    return batches_;
  }

  FakeFilesystem fs_;
  FakeDirWatcher watcher_;
  postfix::PostfixConfig config_;
  std::unique_ptr<postfix::QueueReader> reader_;
  std::unique_ptr<QueueIndex> index_;
  std::unique_ptr<QueueMonitor> monitor_;
  absl::Mutex mu_;
  std::vector<std::shared_ptr<const IndexBatch>> batches_ ABSL_GUARDED_BY(mu_);
};

TEST_F(LiveIndexTest, RefreshPublishesWhatChangedAsTheNextGeneration) {
  fs_.AddFile("/q/deferred/A/AAAAAA01", File());
  ASSERT_TRUE(index_->Rescan().ok());
  const int64_t g = index_->Current()->generation();
  fs_.AddFile("/q/incoming/BBBBBB01", File());
  fs_.Remove("/q/deferred/A/AAAAAA01");
  fs_.AddFile("/q/hold/AAAAAA01", File());
  index_->Refresh({{"BBBBBB01", QueueKind::kIncoming}, {"AAAAAA01", std::nullopt},
                   {"CCCCCC01", std::nullopt}});
  auto batches = Batches(2);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1]->generation, g + 1);
  EXPECT_FALSE(batches[1]->rescan);
  EXPECT_THAT(Describe(batches[1]->changes),
              UnorderedElementsAre("added BBBBBB01 unknown->incoming",
                                   "moved AAAAAA01 deferred->hold"));
  EXPECT_EQ(index_->Current()->Find(QueueSource::kPostfix, "AAAAAA01")->queue_kind(), QueueKind::kHold);
  // Nothing new: no batch, no generation.
  index_->Refresh({{"BBBBBB01", std::nullopt}});
  EXPECT_EQ(index_->Current()->generation(), g + 1);
}

TEST_F(LiveIndexTest, AMessagesTripThroughTheQueuesIsOneBatch) {
  StartMonitor(absl::Milliseconds(300));
  // cleanup writes in incoming, the queue manager moves it to active and,
  // after a failed attempt, to deferred with a defer log.
  fs_.AddFile("/q/incoming/DDDDDD01", File(), 0600);
  watcher_.Push({DirEvent::Kind::kChanged, "/q/incoming", "DDDDDD01"});
  fs_.AddFile("/q/incoming/DDDDDD01", File(), 0700);
  watcher_.Push({DirEvent::Kind::kChanged, "/q/incoming", "DDDDDD01"});
  fs_.Remove("/q/incoming/DDDDDD01");
  fs_.AddFile("/q/active/DDDDDD01", File());
  watcher_.Push({{DirEvent::Kind::kRemoved, "/q/incoming", "DDDDDD01"},
                 {DirEvent::Kind::kChanged, "/q/active", "DDDDDD01"}});
  fs_.AddDir("/q/defer/D");
  fs_.AddFile("/q/defer/D/DDDDDD01", "recipient=r@x.example\nreason=refused\n\n");
  fs_.Remove("/q/active/DDDDDD01");
  fs_.AddFile("/q/deferred/D/DDDDDD01", File());
  watcher_.Push({{DirEvent::Kind::kDirCreated, "/q/defer", "D"},
                 {DirEvent::Kind::kChanged, "/q/defer/D", "DDDDDD01"},
                 {DirEvent::Kind::kRemoved, "/q/active", "DDDDDD01"},
                 {DirEvent::Kind::kDirCreated, "/q/deferred", "D"}});
  auto batches = Batches(1);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_THAT(Describe(batches[0]->changes),
              ElementsAre("added DDDDDD01 unknown->deferred"));
  auto v = index_->Current()->Find(QueueSource::kPostfix, "DDDDDD01");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->recipient_delay_reason(0), "refused");
  // The new hash subdirectories are watched from now on.
  EXPECT_TRUE(watcher_.dirs().count("/q/deferred/D"));
  EXPECT_TRUE(watcher_.dirs().count("/q/defer/D"));
  EXPECT_EQ(Batches(2, absl::Milliseconds(400)).size(), 1u);
}

TEST_F(LiveIndexTest, ALoneChangeIsAppliedAtOnceAndABurstAtMostEveryWindow) {
  StartMonitor(absl::Milliseconds(150));
  fs_.AddFile("/q/hold/JJJJJJ00", File());
  absl::Time sent = absl::Now();
  watcher_.Push({DirEvent::Kind::kChanged, "/q/hold", "JJJJJJ00"});
  ASSERT_EQ(Batches(1).size(), 1u);
  EXPECT_LT(absl::Now() - sent, absl::Milliseconds(120));  // quiet, not window
  // Changes every 10 ms for 600 ms: batches of up to 150 ms each.
  for (int i = 1; i <= 60; ++i) {
    std::string id = absl::StrFormat("JJJJJJ%02d", i);
    fs_.AddFile("/q/hold/" + id, File());
    watcher_.Push({DirEvent::Kind::kChanged, "/q/hold", id});
    absl::SleepFor(absl::Milliseconds(10));
  }
  auto batches = Batches(1 + 60, absl::Milliseconds(400));
  EXPECT_GE(batches.size(), 1u + 4u);
  EXPECT_LE(batches.size(), 1u + 12u);
  size_t added = 0;
  for (size_t i = 1; i < batches.size(); ++i) added += batches[i]->changes.size();
  EXPECT_EQ(added, 60u);
}

TEST_F(LiveIndexTest, HoldIsAMoveAndADeferLogIsAChange) {
  fs_.AddFile("/q/deferred/E/EEEEEE01", File());
  StartMonitor();
  fs_.Remove("/q/deferred/E/EEEEEE01");
  fs_.AddFile("/q/hold/EEEEEE01", File());
  watcher_.Push({{DirEvent::Kind::kRemoved, "/q/deferred/E", "EEEEEE01"},
                 {DirEvent::Kind::kChanged, "/q/hold", "EEEEEE01"}});
  auto batches = Batches(1);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_THAT(Describe(batches[0]->changes),
              ElementsAre("moved EEEEEE01 deferred->hold"));
  // The defer log's hash directory is new too: the file is found in it.
  fs_.AddFile("/q/defer/E/EEEEEE01", "recipient=r@x.example\nreason=greylisted\n\n");
  watcher_.Push({DirEvent::Kind::kDirCreated, "/q/defer", "E"});
  batches = Batches(2);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_THAT(Describe(batches[1]->changes), ElementsAre("changed EEEEEE01 hold->hold"));
  EXPECT_EQ(batches[1]->generation, batches[0]->generation + 1);
  EXPECT_EQ(batches[1]->after->Find(QueueSource::kPostfix, "EEEEEE01")->recipient_delay_reason(0),
            "greylisted");
  EXPECT_EQ(batches[1]->before->Find(QueueSource::kPostfix, "EEEEEE01")->recipient_delay_reason(0), "");
}

TEST_F(LiveIndexTest, FilesInANewQueueDirectoryAreRead) {
  fs_.AddFile("/q/deferred/F/FFFFFF01", File());
  fs_.AddFile("/q/deferred/F/FFFFFF02", File());
  StartMonitor();
  // Already there when the directory showed up: no event for the files.
  fs_.AddFile("/q/deferred/A/AAAAAA09", File());
  watcher_.Push({DirEvent::Kind::kDirCreated, "/q/deferred", "A"});
  auto batches = Batches(1);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_THAT(Describe(batches[0]->changes),
              ElementsAre("added AAAAAA09 unknown->deferred"));
}

TEST_F(LiveIndexTest, LostEventsMeanARescan) {
  StartMonitor();
  fs_.AddFile("/q/hold/GGGGGG01", File());
  watcher_.Push({DirEvent::Kind::kOverflow, "", ""});
  auto batches = Batches(1);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_TRUE(batches[0]->rescan);
  EXPECT_THAT(Describe(batches[0]->changes),
              ElementsAre("added GGGGGG01 unknown->hold"));
  EXPECT_EQ(monitor_->stats().rescans, 1);
}

TEST_F(LiveIndexTest, AQueueDirectoryThatGoesAwayMeansARescan) {
  fs_.AddFile("/q/hold/KKKKKK01", File());
  StartMonitor();
  fs_.Remove("/q/hold/KKKKKK01");
  watcher_.Push({DirEvent::Kind::kDirGone, "/q/hold", ""});
  auto batches = Batches(1);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_TRUE(batches[0]->rescan);
  EXPECT_THAT(Describe(batches[0]->changes),
              ElementsAre("removed KKKKKK01 hold->unknown"));
}

TEST_F(LiveIndexTest, PeriodicRescanCorrectsDriftAndIsQuietWithout) {
  StartMonitor(absl::Milliseconds(50), absl::Milliseconds(200), absl::Milliseconds(200));
  fs_.AddFile("/q/hold/HHHHHH01", File());  // no event: drift
  auto batches = Batches(1);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_TRUE(batches[0]->rescan);
  const int64_t g = batches[0]->generation;
  EXPECT_EQ(Batches(2, absl::Milliseconds(600)).size(), 1u);  // nothing new
  EXPECT_GE(monitor_->stats().rescans, 2);
  EXPECT_EQ(index_->Current()->generation(), g);
}

TEST_F(LiveIndexTest, AQuietQueueIsRescannedOnlyAtTheIdleInterval) {
  StartMonitor(absl::Milliseconds(20), absl::Milliseconds(100), absl::Hours(1));
  absl::SleepFor(absl::Milliseconds(350));
  EXPECT_EQ(monitor_->stats().rescans, 0);
  // Any event makes the next interval's rescan due.
  fs_.AddFile("/q/hold/IIIIII01", File());
  watcher_.Push({DirEvent::Kind::kChanged, "/q/hold", "IIIIII01"});
  fs_.AddFile("/q/hold/IIIIII02", File());  // no event: drift
  auto batches = Batches(2);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_FALSE(batches[0]->rescan);
  EXPECT_TRUE(batches[1]->rescan);
  EXPECT_THAT(Describe(batches[1]->changes),
              ElementsAre("added IIIIII02 unknown->hold"));
  EXPECT_EQ(monitor_->stats().rescans, 1);
}

TEST_F(LiveIndexTest, ActionsPublishMovesWithoutReading) {
  fs_.AddFile("/q/deferred/A/AAAAAA01", File());
  fs_.AddFile("/q/deferred/A/AAAAAA02", File());
  ASSERT_TRUE(index_->Rescan().ok());
  index_->ApplyUpdates({{"AAAAAA01", QueueKind::kHold, std::nullopt, false},
                        {"AAAAAA02", std::nullopt, std::nullopt, false},
                        {"ZZZZZZ01", QueueKind::kHold, std::nullopt, false}});
  auto batches = Batches(2);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_THAT(Describe(batches[1]->changes),
              ElementsAre("moved AAAAAA01 deferred->hold",
                          "removed AAAAAA02 deferred->unknown"));
}

TEST_F(LiveIndexTest, AnUnwatchableDirectoryIsLeftToRescans) {
  watcher_.FailWatch("/q/hold", absl::ResourceExhaustedError("no more watches"));
  StartMonitor();
  EXPECT_FALSE(watcher_.dirs().count("/q/hold"));
  EXPECT_TRUE(watcher_.dirs().count("/q/deferred"));
}

}  // namespace
}  // namespace mailfleet
