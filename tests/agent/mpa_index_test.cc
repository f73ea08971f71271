// The MPA spool in the agent's index: items of the spool's four queues
// beside Postfix's messages, known apart from them by their source, kept
// current by the monitor, and judged for the MPA's throttle state. On a
// fake queue directory, spool and watcher; once on a real spool written by
// the MPA's own writer.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "agent/index/queue_index.h"
#include "agent/index/queue_monitor.h"
#include "agent/index/queue_snapshot.h"
#include "agent/mpa/spool_item.h"
#include "agent/mpa/spool_reader.h"
#include "agent/mpa/spool_writer.h"
#include "common/os/filesystem.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/fake_dir_watcher.h"
#include "tests/testing/fake_filesystem.h"
#include "tests/testing/queue_file_builder.h"

namespace mailfleet {
namespace {

using ::mailfleet::testing::FakeDirWatcher;
using ::mailfleet::testing::FakeFilesystem;
using ::mailfleet::testing::QueueFileBuilder;
using mpa::ThrottleState;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using Event = DirEvent::Kind;

const absl::Time kNow = absl::FromUnixSeconds(1700100000);
// What QueueFileBuilder::Simple writes into a queue file's arrival record
// (seconds 1700000000, microseconds 123456): an MPA item received at the
// same instant ties with the Postfix message in the listing order.
const absl::Time kPostfixArrival = absl::FromUnixMicros(1700000000123456);
const mpa::ThrottleLimits kLimits = {/*throttle_spool=*/3,
                                     /*throttle_error=*/2,
                                     /*refuse_spool=*/5};

mpa::SpoolEnvelope Envelope(absl::Time received, std::string error = "",
                            int64_t attempts = 0) {
  mpa::SpoolEnvelope env;
  env.sender = "alice@example.com";
  env.recipients = {"bob@example.net", "carol@example.org"};
  env.received = received;
  env.error = std::move(error);
  env.attempts = attempts;
  return env;
}

// "mpa:ID" or "postfix:ID": what tells an MPA item from its Postfix
// namesake.
std::string KeyText(QueueSource source, absl::string_view id) {
  return absl::StrCat(source == QueueSource::kMpa ? "mpa:" : "postfix:", id);
}

// "removed mpa:4B2F1A0F3E mpa-error->unknown", one per change.
std::vector<std::string> Describe(const std::vector<IndexChange>& changes) {
  static constexpr const char* kKinds[] = {"added", "removed", "moved",
                                           "changed"};
  std::vector<std::string> out;
  for (const IndexChange& c : changes) {
    out.push_back(absl::StrCat(
        kKinds[static_cast<int>(c.kind)], " ", KeyText(c.source, c.queue_id),
        " ", QueueKindName(c.from), "->", QueueKindName(c.to)));
  }
  return out;
}

// Visits the messages of `s` in listing order.
void ForEach(const QueueSnapshot& s,
             const std::function<void(const QueueSnapshot::View&)>& visit) {
  s.List(Filter(), kNow, nullptr, 1000, visit);
}

// Their keys, in listing order.
std::vector<std::string> Listed(const QueueSnapshot& s) {
  std::vector<std::string> keys;
  ForEach(s, [&](const QueueSnapshot::View& v) {
    keys.push_back(KeyText(v.source(), v.id()));
  });
  return keys;
}

// A fake Postfix queue directory (/q) and MPA spool (/spool), the index
// over both, and the monitor when a test starts it.
class MpaSpoolFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_.AddDir("/q");
    for (QueueKind q : kPostfixQueues) {
      fs_.AddDir(absl::StrCat("/q/", QueueKindName(q)));
    }
    fs_.AddDir("/q/defer");
    fs_.AddDir("/spool");
    config_.queue_directory = "/q";
    reader_ = std::make_unique<postfix::QueueReader>(&fs_, config_, 1);
    index_ = std::make_unique<QueueIndex>(reader_.get(), &spool_, kLimits);
    index_->AddListener([this](std::shared_ptr<const IndexBatch> b) {
      absl::MutexLock lock(&mu_);
      batches_.push_back(std::move(b));
    });
  }

  void TearDown() override {
    if (monitor_) monitor_->Stop();
  }

  // Writes the item as the MPA does: the envelope first, the message last.
  void PutItem(QueueKind queue, const std::string& id,
               const mpa::SpoolEnvelope& env, size_t eml_bytes = 100) {
    fs_.AddFile(spool_.ItemPath(queue, id, ".env"),
                mpa::FormatSpoolEnvelope(env));
    fs_.AddFile(spool_.ItemPath(queue, id, ".eml"),
                std::string(eml_bytes, 'x'));
  }
  void RemoveItem(QueueKind queue, const std::string& id) {
    fs_.Remove(spool_.ItemPath(queue, id, ".eml"));
    fs_.Remove(spool_.ItemPath(queue, id, ".env"));
  }
  // Respools as the MPA does: both files renamed, the .eml last.
  void MoveItem(QueueKind from, QueueKind to, const std::string& id) {
    fs_.AddDir(absl::StrCat("/spool/", mpa::SpoolDirName(to)));
    for (const char* ext : {".env", ".eml"}) {
      ASSERT_TRUE(fs_.Rename(spool_.ItemPath(from, id, ext),
                             spool_.ItemPath(to, id, ext))
                      .ok());
    }
  }
  // `n` items named "<prefix>-<i>" in `queue`.
  void Fill(QueueKind queue, const std::string& prefix, int n) {
    for (int i = 0; i < n; ++i) {
      PutItem(queue, absl::StrCat(prefix, "-", i), Envelope(kPostfixArrival));
    }
  }
  // A Postfix message at `path` under /q, arrived at kPostfixArrival.
  void PutPostfix(const std::string& path) {
    fs_.AddFile(
        absl::StrCat("/q/", path),
        QueueFileBuilder::Simple("s@example.com", {"r@x.example"}, {"hi"}));
  }
  // A Postfix message and an MPA item both named 4B2F1A0F3E.
  void PutNamesakes() {
    PutPostfix("deferred/4/4B2F1A0F3E");
    PutItem(QueueKind::kMpaError, "4B2F1A0F3E",
            Envelope(kPostfixArrival, "bad", 1));
  }

  // Scans; what that publishes is not a change the test looks for.
  void Rescan() {
    ASSERT_TRUE(index_->Rescan().ok());
    absl::MutexLock lock(&mu_);
    taken_ = batches_.size();
  }
  void StartMonitor() {
    monitor_ = std::make_unique<QueueMonitor>(
        index_.get(), &fs_, &watcher_,
        MonitorOptions{absl::Milliseconds(50), absl::Hours(1), absl::Hours(1)});
    ASSERT_TRUE(monitor_->Start().ok());
    absl::MutexLock lock(&mu_);
    taken_ = batches_.size();
  }

  // What the batches published since the last look changed, each message
  // once; waits up to 5 s for the first of them.
  std::vector<std::string> NewChanges() {
    absl::MutexLock lock(&mu_);
    auto any = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return batches_.size() > taken_;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&any), absl::Seconds(5))) {
      return {"no batch"};
    }
    std::vector<std::shared_ptr<const IndexBatch>> fresh(
        batches_.begin() + taken_, batches_.end());
    taken_ = batches_.size();
    return Describe(MergeBatches(fresh)->changes);
  }
  // The monitor's answer to `events`.
  std::vector<std::string> ChangesAfter(std::vector<DirEvent> events) {
    watcher_.Push(std::move(events));
    return NewChanges();
  }

  std::optional<QueueSnapshot::View> Find(QueueSource source,
                                          absl::string_view id) {
    current_ = index_->Current();
    return current_->Find(source, id);
  }
  std::optional<QueueSnapshot::View> FindItem(absl::string_view id) {
    return Find(QueueSource::kMpa, id);
  }
  QueueSummary Summary(const Filter& filter = Filter()) {
    current_ = index_->Current();
    return index_->Summarize(*current_, filter, kNow, 10);
  }

  FakeFilesystem fs_;
  FakeDirWatcher watcher_;
  postfix::PostfixConfig config_;
  mpa::SpoolReader spool_{&fs_, "/spool"};
  std::unique_ptr<postfix::QueueReader> reader_;
  std::unique_ptr<QueueIndex> index_;
  std::unique_ptr<QueueMonitor> monitor_;
  // Keeps the Views that Find returns valid.
  std::shared_ptr<const QueueSnapshot> current_;
  absl::Mutex mu_;
  std::vector<std::shared_ptr<const IndexBatch>> batches_ ABSL_GUARDED_BY(mu_);
  size_t taken_ ABSL_GUARDED_BY(mu_) = 0;  // batches NewChanges has seen
};

using MpaIndexTest = MpaSpoolFixture;

TEST_F(MpaIndexTest, RescanIndexesPostfixMessagesAndItemsOfAllFourSpoolQueues) {
  PutPostfix("deferred/A/AAAAAA01");
  PutPostfix("hold/BBBBBB01");
  const absl::Time received = absl::FromUnixSeconds(1764494100);
  const std::string reason = "template \"invoice\" is invalid";
  PutItem(QueueKind::kMpaOutgoing, "out-1", Envelope(received));
  PutItem(QueueKind::kMpaError, "err-1", Envelope(received, reason, 3), 2048);
  PutItem(QueueKind::kMpaError, "err-2",
          Envelope(received, "decryption failed", 1));
  PutItem(QueueKind::kMpaSpool, "sp-1", Envelope(received));
  PutItem(QueueKind::kMpaRespool, "re-1", Envelope(received, "timeout", 2));
  Rescan();

  EXPECT_EQ(index_->Current()->size(), 7u);
  auto v = FindItem("err-1");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->queue_kind(), QueueKind::kMpaError);
  EXPECT_EQ(v->source(), QueueSource::kMpa);
  EXPECT_EQ(v->sender_address(), "alice@example.com");
  ASSERT_EQ(v->recipient_count(), 2u);
  EXPECT_EQ(v->recipient_address(0), "bob@example.net");
  EXPECT_EQ(v->recipient_address(1), "carol@example.org");
  EXPECT_EQ(v->recipient_delay_reason(0), reason);
  EXPECT_EQ(v->recipient_delay_reason(1), reason);
  EXPECT_EQ(v->arrival(), received);
  EXPECT_EQ(v->size_bytes(), 2048);
  EXPECT_EQ(v->mpa_error(), reason);
  EXPECT_EQ(v->mpa_attempts(), 3);
  EXPECT_EQ(v->parse_error(), "");
  EXPECT_FALSE(Find(QueueSource::kPostfix, "err-1").has_value());
  EXPECT_EQ(Find(QueueSource::kPostfix, "AAAAAA01")->queue_kind(),
            QueueKind::kDeferred);

  QueueSummary sum = Summary();
  auto stats = [&](QueueKind q) { return sum.queues[static_cast<int>(q)]; };
  EXPECT_EQ(stats(QueueKind::kMpaOutgoing).messages, 1);
  EXPECT_EQ(stats(QueueKind::kMpaError).messages, 2);
  EXPECT_EQ(stats(QueueKind::kMpaError).bytes, 2048 + 100);
  EXPECT_EQ(stats(QueueKind::kMpaError).recipients, 4);
  EXPECT_EQ(stats(QueueKind::kMpaSpool).messages, 1);
  EXPECT_EQ(stats(QueueKind::kMpaRespool).messages, 1);
  EXPECT_EQ(stats(QueueKind::kDeferred).messages, 1);
  EXPECT_EQ(stats(QueueKind::kHold).messages, 1);
  EXPECT_EQ(sum.total_messages, 7);
  EXPECT_EQ(sum.problem_count, 0);
}

TEST_F(MpaIndexTest, APostfixMessageAndAnMpaItemOfOneIdAreTwoMessages) {
  PutNamesakes();
  PutPostfix("hold/4B2F1A0F3F");  // the same arrival too
  Rescan();
  auto snapshot = index_->Current();

  EXPECT_EQ(snapshot->size(), 3u);
  auto postfix = snapshot->Find(QueueSource::kPostfix, "4B2F1A0F3E");
  auto item = snapshot->Find(QueueSource::kMpa, "4B2F1A0F3E");
  ASSERT_TRUE(postfix.has_value());
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(postfix->queue_kind(), QueueKind::kDeferred);
  EXPECT_EQ(item->queue_kind(), QueueKind::kMpaError);
  // Only the source orders the namesakes.
  EXPECT_EQ(postfix->arrival(), item->arrival());
  EXPECT_THAT(Listed(*snapshot),
              ElementsAre("postfix:4B2F1A0F3E", "mpa:4B2F1A0F3E",
                          "postfix:4B2F1A0F3F"));

  // One per page, through the page tokens a client passes back.
  std::vector<std::string> paged;
  std::optional<ListCursor> cursor;
  for (int page = 0; page < 5; ++page) {
    std::optional<ListCursor> next =
        snapshot->List(Filter(), kNow, cursor ? &*cursor : nullptr, 1,
                       [&](const QueueSnapshot::View& v) {
                         paged.push_back(KeyText(v.source(), v.id()));
                       });
    if (!next) break;
    absl::StatusOr<ListCursor> decoded =
        DecodePageToken(EncodePageToken(*next));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->source, next->source);
    EXPECT_EQ(decoded->queue_id, next->queue_id);
    EXPECT_EQ(decoded->arrival_us, next->arrival_us);
    cursor = *decoded;
  }
  EXPECT_THAT(paged, ElementsAre("postfix:4B2F1A0F3E", "mpa:4B2F1A0F3E",
                                 "postfix:4B2F1A0F3F"));
}

TEST_F(MpaIndexTest, ANamesakeReadLiveIsAddedBesideTheOtherNotOverIt) {
  PutPostfix("deferred/4/4B2F1A0F3E");
  Rescan();
  PutItem(QueueKind::kMpaError, "4B2F1A0F3E", Envelope(kPostfixArrival));
  index_->Refresh({{"4B2F1A0F3E", QueueKind::kMpaError, QueueSource::kMpa}});
  EXPECT_THAT(NewChanges(),
              ElementsAre("added mpa:4B2F1A0F3E unknown->mpa-error"));
  EXPECT_THAT(Listed(*index_->Current()),
              ElementsAre("postfix:4B2F1A0F3E", "mpa:4B2F1A0F3E"));
  // And the other way round: a Postfix message beside an item.
  PutPostfix("hold/ABCDEF01");
  PutItem(QueueKind::kMpaSpool, "ABCDEF01", Envelope(kPostfixArrival));
  index_->Refresh({{"ABCDEF01", QueueKind::kMpaSpool, QueueSource::kMpa}});
  index_->Refresh({{"ABCDEF01", QueueKind::kHold, QueueSource::kPostfix}});
  EXPECT_THAT(NewChanges(),
              UnorderedElementsAre("added mpa:ABCDEF01 unknown->mpa-spool",
                                   "added postfix:ABCDEF01 unknown->hold"));
  auto snapshot = index_->Current();
  EXPECT_EQ(snapshot->size(), 4u);
  EXPECT_EQ(snapshot->Find(QueueSource::kPostfix, "4B2F1A0F3E")->queue_kind(),
            QueueKind::kDeferred);
  EXPECT_THAT(QueueSnapshot::Diff(*snapshot, *snapshot->Compacted()),
              IsEmpty());
}

TEST_F(MpaIndexTest, RemovingTheItemLeavesItsPostfixNamesakeAlone) {
  PutNamesakes();
  Rescan();
  auto before = index_->Current();

  RemoveItem(QueueKind::kMpaError, "4B2F1A0F3E");
  index_->Refresh({{"4B2F1A0F3E", std::nullopt, QueueSource::kMpa}});
  EXPECT_THAT(NewChanges(),
              ElementsAre("removed mpa:4B2F1A0F3E mpa-error->unknown"));
  auto after = index_->Current();
  EXPECT_EQ(after->generation(), before->generation() + 1);
  // The whole index agrees: nothing else differs.
  EXPECT_THAT(Describe(QueueSnapshot::Diff(*before, *after)),
              ElementsAre("removed mpa:4B2F1A0F3E mpa-error->unknown"));
  EXPECT_THAT(Listed(*after), ElementsAre("postfix:4B2F1A0F3E"));
  // Reading the Postfix message again finds nothing new.
  index_->Refresh({{"4B2F1A0F3E", std::nullopt, QueueSource::kPostfix}});
  EXPECT_EQ(index_->Current()->generation(), after->generation());
}

TEST_F(MpaIndexTest, ARespooledItemMovesFromErrorToRespool) {
  PutNamesakes();
  Rescan();
  MoveItem(QueueKind::kMpaError, QueueKind::kMpaRespool, "4B2F1A0F3E");
  index_->Refresh({{"4B2F1A0F3E", std::nullopt, QueueSource::kMpa}});
  EXPECT_THAT(NewChanges(),
              ElementsAre("moved mpa:4B2F1A0F3E mpa-error->mpa-respool"));
  EXPECT_EQ(FindItem("4B2F1A0F3E")->mpa_error(), "bad");
  EXPECT_EQ(Find(QueueSource::kPostfix, "4B2F1A0F3E")->queue_kind(),
            QueueKind::kDeferred);
}

TEST_F(MpaIndexTest, ANewEnvelopeIsAChangeInPlace) {
  PutItem(QueueKind::kMpaError, "err-1", Envelope(kPostfixArrival, "bad", 1));
  Rescan();
  PutItem(QueueKind::kMpaError, "err-1", Envelope(kPostfixArrival, "bad", 2));
  index_->Refresh({{"err-1", QueueKind::kMpaError, QueueSource::kMpa}});
  EXPECT_THAT(NewChanges(),
              ElementsAre("changed mpa:err-1 mpa-error->mpa-error"));
  EXPECT_EQ(FindItem("err-1")->mpa_attempts(), 2);
}

TEST_F(MpaIndexTest, DamagedItemsAreListedAndStrayFilesAreNot) {
  fs_.AddFile("/spool/error/noenv.eml", std::string(10, 'x'));
  PutItem(QueueKind::kMpaError, "fine", Envelope(kPostfixArrival, "bad", 1));
  PutItem(QueueKind::kMpaSpool, "bad id", Envelope(kPostfixArrival));
  fs_.AddFile("/spool/tmp/inflight.env",
              mpa::FormatSpoolEnvelope(Envelope(kNow)));
  fs_.AddFile("/spool/tmp/inflight.eml", "x");
  fs_.AddFile("/spool/spool/coming.env",
              mpa::FormatSpoolEnvelope(Envelope(kNow)));
  // absl::ParseTime's names for the infinities are no RFC 3339 time.
  fs_.AddFile("/spool/outgoing/forever.env",
              "sender: a@b\nrecipient: c@d\nreceived: infinite-past\n");
  fs_.AddFile("/spool/outgoing/forever.eml", "x", 0700,
              kPostfixArrival + absl::Seconds(1));
  Rescan();

  EXPECT_THAT(Listed(*index_->Current()),
              ElementsAre("mpa:noenv", "mpa:fine", "mpa:forever"));
  auto damaged = FindItem("noenv");
  ASSERT_TRUE(damaged.has_value());
  EXPECT_EQ(damaged->queue_kind(), QueueKind::kMpaError);
  EXPECT_EQ(damaged->parse_error(), "no envelope (.env)");
  EXPECT_EQ(damaged->size_bytes(), 10);
  EXPECT_EQ(FindItem("fine")->parse_error(), "");
  EXPECT_THAT(std::string(FindItem("forever")->parse_error()),
              HasSubstr("line 3: received is not an RFC 3339 time"));
  QueueSummary sum = Summary();
  EXPECT_EQ(sum.problem_count, 2);
  std::vector<std::string> problems;
  for (const auto& p : sum.problems) {
    problems.push_back(
        absl::StrCat(QueueKindName(p.queue), " ", p.queue_id, ": ", p.reason));
  }
  // The scan reads outgoing before error.
  EXPECT_THAT(
      problems,
      ElementsAre(
          HasSubstr("mpa-outgoing forever: envelope line 3: received is not"),
          "mpa-error noenv: no envelope (.env)"));
}

// How many items the spool and the error queue hold, and the state the MPA
// is in then under kLimits.
struct ThrottleCase {
  int spool;
  int error;
  ThrottleState state;
};

class MpaThrottleTest : public MpaSpoolFixture,
                        public ::testing::WithParamInterface<ThrottleCase> {};

TEST_P(MpaThrottleTest, StateFollowsTheSpoolAndErrorCounts) {
  const ThrottleCase& c = GetParam();
  Fill(QueueKind::kMpaSpool, "sp", c.spool);
  Fill(QueueKind::kMpaError, "err", c.error);
  Fill(QueueKind::kMpaRespool, "re", 4);  // counts for neither limit
  Rescan();
  EXPECT_EQ(Summary().mpa_throttle,
            (mpa::Throttle{c.state, c.spool, c.error, kLimits}));
}

INSTANTIATE_TEST_SUITE_P(
    MpaLimits, MpaThrottleTest,
    ::testing::Values(ThrottleCase{0, 0, ThrottleState::kNormal},
                      ThrottleCase{3, 2, ThrottleState::kNormal},
                      ThrottleCase{4, 0, ThrottleState::kThrottling},
                      ThrottleCase{0, 3, ThrottleState::kThrottling},
                      ThrottleCase{5, 0, ThrottleState::kThrottling},
                      ThrottleCase{6, 0, ThrottleState::kRefusing},
                      ThrottleCase{6, 3, ThrottleState::kRefusing}),
    [](const ::testing::TestParamInfo<ThrottleCase>& info) {
      return absl::StrCat("Spool", info.param.spool, "Error", info.param.error);
    });

TEST_F(MpaIndexTest, ThrottleIsJudgedOnTheWholeIndexWhateverTheFilter) {
  PutPostfix("deferred/A/AAAAAA01");
  Fill(QueueKind::kMpaSpool, "sp", 4);
  Rescan();
  FilterSpec spec;
  spec.queues = {QueueKind::kDeferred};
  absl::StatusOr<Filter> deferred = Filter::Compile(spec);
  ASSERT_TRUE(deferred.ok());
  QueueSummary sum = Summary(*deferred);
  EXPECT_EQ(sum.total_messages, 1);
  EXPECT_EQ(sum.queues[static_cast<int>(QueueKind::kMpaSpool)].messages, 0);
  ASSERT_TRUE(sum.mpa_throttle.has_value());
  EXPECT_EQ(sum.mpa_throttle->spool_items, 4);
  EXPECT_EQ(sum.mpa_throttle->state, ThrottleState::kThrottling);
}

TEST_F(MpaIndexTest, ThrottleFollowsItemsReadLive) {
  Fill(QueueKind::kMpaSpool, "sp", 3);
  Rescan();
  EXPECT_EQ(Summary().mpa_throttle->state, ThrottleState::kNormal);
  PutItem(QueueKind::kMpaSpool, "sp-3", Envelope(kPostfixArrival));
  index_->Refresh({{"sp-3", QueueKind::kMpaSpool, QueueSource::kMpa}});
  EXPECT_EQ(Summary().mpa_throttle->state, ThrottleState::kThrottling);
  EXPECT_EQ(Summary().mpa_throttle->spool_items, 4);
  RemoveItem(QueueKind::kMpaSpool, "sp-0");
  index_->Refresh({{"sp-0", std::nullopt, QueueSource::kMpa}});
  EXPECT_EQ(Summary().mpa_throttle->state, ThrottleState::kNormal);
}

TEST_F(MpaIndexTest, WithoutASpoolThereIsNoThrottleAndNoItem) {
  PutPostfix("deferred/A/AAAAAA01");
  Fill(QueueKind::kMpaSpool, "sp", 6);
  QueueIndex postfix_only(reader_.get());
  ASSERT_TRUE(postfix_only.Rescan().ok());
  auto snapshot = postfix_only.Current();
  EXPECT_EQ(snapshot->size(), 1u);
  EXPECT_EQ(postfix_only.mpa_limits(), nullptr);
  EXPECT_FALSE(postfix_only.Summarize(*snapshot, Filter(), kNow, 10)
                   .mpa_throttle.has_value());
  postfix_only.Refresh({{"sp-0", QueueKind::kMpaSpool, QueueSource::kMpa}});
  EXPECT_EQ(postfix_only.Current()->size(), 1u);
}

using MpaMonitorTest = MpaSpoolFixture;

TEST_F(MpaMonitorTest, WatchesTheSpoolAndItsQueuesButNotTmp) {
  fs_.AddDir("/spool/tmp");
  StartMonitor();
  std::set<std::string> dirs = watcher_.dirs();
  for (const char* d : {"/spool", "/spool/outgoing", "/spool/error",
                        "/spool/spool", "/spool/respool", "/q/deferred"}) {
    EXPECT_TRUE(dirs.count(d)) << d;
  }
  EXPECT_FALSE(dirs.count("/spool/tmp"));
}

TEST_F(MpaMonitorTest, ItemEventsAddChangeAndRemoveTheItem) {
  StartMonitor();
  PutItem(QueueKind::kMpaError, "err-1", Envelope(kPostfixArrival, "bad", 1));
  EXPECT_THAT(ChangesAfter({{Event::kChanged, "/spool/error", "err-1.eml"}}),
              ElementsAre("added mpa:err-1 unknown->mpa-error"));
  EXPECT_EQ(FindItem("err-1")->mpa_attempts(), 1);

  // The MPA tried again: only its envelope changed.
  PutItem(QueueKind::kMpaError, "err-1", Envelope(kPostfixArrival, "bad", 2));
  EXPECT_THAT(ChangesAfter({{Event::kChanged, "/spool/error", "err-1.env"}}),
              ElementsAre("changed mpa:err-1 mpa-error->mpa-error"));
  EXPECT_EQ(FindItem("err-1")->mpa_attempts(), 2);

  RemoveItem(QueueKind::kMpaError, "err-1");
  EXPECT_THAT(ChangesAfter({{Event::kRemoved, "/spool/error", "err-1.eml"},
                            {Event::kRemoved, "/spool/error", "err-1.env"}}),
              ElementsAre("removed mpa:err-1 mpa-error->unknown"));
}

TEST_F(MpaMonitorTest, ARespoolAndAHoldOfItsNamesakeInOneBatchAreTwoMoves) {
  PutNamesakes();
  StartMonitor();
  // The MPA's renames (.env first) and postsuper -h at once: each event's
  // directory says which of the two it concerns.
  MoveItem(QueueKind::kMpaError, QueueKind::kMpaRespool, "4B2F1A0F3E");
  fs_.Remove("/q/deferred/4/4B2F1A0F3E");
  PutPostfix("hold/4B2F1A0F3E");
  EXPECT_THAT(
      ChangesAfter({{Event::kChanged, "/spool/respool", "4B2F1A0F3E.env"},
                    {Event::kRemoved, "/q/deferred/4", "4B2F1A0F3E"},
                    {Event::kRemoved, "/spool/error", "4B2F1A0F3E.env"},
                    {Event::kChanged, "/spool/respool", "4B2F1A0F3E.eml"},
                    {Event::kChanged, "/q/hold", "4B2F1A0F3E"},
                    {Event::kRemoved, "/spool/error", "4B2F1A0F3E.eml"}}),
      UnorderedElementsAre("moved postfix:4B2F1A0F3E deferred->hold",
                           "moved mpa:4B2F1A0F3E mpa-error->mpa-respool"));
}

TEST_F(MpaMonitorTest, EventsInTmpAtTheTopOrForStrayNamesReadNothing) {
  StartMonitor();
  // Items no event announces: a stray event taken for one of them would
  // add it.
  PutItem(QueueKind::kMpaError, "x", Envelope(kPostfixArrival));
  PutItem(QueueKind::kMpaError, "top", Envelope(kPostfixArrival));
  fs_.AddFile("/spool/tmp/x.eml", "x");
  PutItem(QueueKind::kMpaSpool, "bad name", Envelope(kPostfixArrival));
  PutItem(QueueKind::kMpaSpool, "sentinel", Envelope(kPostfixArrival));
  EXPECT_THAT(ChangesAfter({{Event::kChanged, "/spool/tmp", "x.eml"},
                            {Event::kChanged, "/spool", "top.eml"},
                            {Event::kChanged, "/spool/spool", "bad name.eml"},
                            {Event::kChanged, "/spool/spool", "notes.txt"},
                            {Event::kChanged, "/spool/spool", "sentinel.eml"}}),
              ElementsAre("added mpa:sentinel unknown->mpa-spool"));
  // The counters move once Refresh has returned, just after the batch.
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (monitor_->stats().batches < 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(monitor_->stats().messages_refreshed, 1);
  EXPECT_EQ(monitor_->stats().events, 5);
}

TEST_F(MpaMonitorTest, AQueueDirectoryCreatedLaterIsWatchedAndItsItemsRead) {
  // Not there at the start: the real watcher says so.
  watcher_.FailWatch("/spool/respool",
                     absl::NotFoundError("no such directory"));
  StartMonitor();
  EXPECT_FALSE(watcher_.dirs().count("/spool/respool"));
  watcher_.FailWatch("/spool/respool", absl::OkStatus());
  // Moved in before the watch began: no event tells of it.
  PutItem(QueueKind::kMpaRespool, "re-1", Envelope(kPostfixArrival, "bad", 1));
  EXPECT_THAT(ChangesAfter({{Event::kDirCreated, "/spool", "respool"}}),
              ElementsAre("added mpa:re-1 unknown->mpa-respool"));
  EXPECT_TRUE(watcher_.dirs().count("/spool/respool"));
  // Its events count from now on.
  PutItem(QueueKind::kMpaRespool, "re-2", Envelope(kPostfixArrival, "bad", 1));
  EXPECT_THAT(ChangesAfter({{Event::kChanged, "/spool/respool", "re-2.eml"}}),
              ElementsAre("added mpa:re-2 unknown->mpa-respool"));
}

// A real spool directory, written by the MPA's own writer.
class MpaRealSpoolTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(root_.empty()); }

  ::mailfleet::testing::TempDir dir_{"mailfleet-mpa-index"};
  const std::string root_ = dir_.path();
  RealFilesystem fs_;
};

TEST_F(MpaRealSpoolTest, ItemsTheMpaWroteAreIndexedWhole) {
  const std::string queue_dir = root_ + "/postfix";
  for (const char* d : {"", "/hold"}) {
    ASSERT_EQ(mkdir((queue_dir + d).c_str(), 0700), 0) << std::strerror(errno);
  }
  std::ofstream(queue_dir + "/hold/AAAAAA01", std::ios::binary)
      << QueueFileBuilder::Simple("s@example.com", {"r@x.example"}, {"hi"});
  ASSERT_EQ(chmod((queue_dir + "/hold/AAAAAA01").c_str(), 0700), 0);
  mpa::SpoolWriter writer(root_ + "/spool");
  int64_t written_items = 0;
  for (QueueKind queue : mpa::kSpoolQueues) {
    for (int i = 0; i < 3; ++i) {
      mpa::SampleItem item = mpa::MakeSampleItem(7, written_items++, queue);
      absl::Status written =
          writer.Write(queue, item.id, item.envelope, item.content);
      ASSERT_TRUE(written.ok()) << written;
    }
  }
  postfix::PostfixConfig config;
  config.queue_directory = queue_dir;
  postfix::QueueReader reader(&fs_, config, 1);
  mpa::SpoolReader spool(&fs_, writer.root());
  QueueIndex index(&reader, &spool, kLimits);
  ASSERT_TRUE(index.Rescan().ok());

  auto snapshot = index.Current();
  EXPECT_EQ(snapshot->size(), 1u + 12u);
  ForEach(*snapshot, [](const QueueSnapshot::View& v) {
    EXPECT_EQ(v.parse_error(), "") << v.id();
  });
  for (QueueKind queue : mpa::kSpoolQueues) {
    EXPECT_EQ(snapshot->CountIn(queue), 3);
  }
  EXPECT_EQ(index.Summarize(*snapshot, Filter(), kNow, 10).problem_count, 0);

  // Respooled on disk, then read again: a move.
  const std::string id = mpa::MakeSampleItem(7, 3, QueueKind::kMpaError).id;
  ASSERT_TRUE(
      writer.Move(QueueKind::kMpaError, QueueKind::kMpaRespool, id).ok());
  std::vector<IndexChange> changes;
  index.AddListener(
      [&](std::shared_ptr<const IndexBatch> b) { changes = b->changes; });
  index.Refresh({{id, std::nullopt, QueueSource::kMpa}});
  EXPECT_THAT(
      Describe(changes),
      ElementsAre(absl::StrCat("moved mpa:", id, " mpa-error->mpa-respool")));
}

}  // namespace
}  // namespace mailfleet
