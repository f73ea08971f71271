#include "agent/index/queue_snapshot.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mailfleet {
namespace {

using ::testing::ElementsAre;

const absl::Time kNow = absl::FromUnixSeconds(1700100000);

Message Msg(std::string id, QueueKind q, absl::Duration age,
            std::vector<Recipient> rcpts, int64_t size = 1000) {
  Message m;
  m.queue_id = std::move(id);
  m.queue = q;
  m.arrival_time = kNow - age;
  m.size = size;
  m.sender = "sender@example.com";
  m.recipients = std::move(rcpts);
  return m;
}

std::shared_ptr<const QueueSnapshot> Sample() {
  postfix::ScanResult scan;
  scan.messages = {
      Msg("AAAAAA01", QueueKind::kDeferred, absl::Minutes(3),
          {{"a@one.example", "", "refused"}, {"b@two.example", "", "refused"}}),
      Msg("AAAAAA02", QueueKind::kDeferred, absl::Hours(30),
          {{"c@ONE.example", "", "timeout"}}),
      Msg("AAAAAA03", QueueKind::kHold, absl::Minutes(15), {{"d@one.example", "", ""}},
          50),
      // Same arrival as 01: ordered by id.
      Msg("AAAAAA00", QueueKind::kIncoming, absl::Minutes(3), {{"e@three.example", "", ""}}),
      // Seen twice during a move: kept once.
      Msg("AAAAAA03", QueueKind::kDeferred, absl::Minutes(15), {{"d@one.example", "", ""}}),
  };
  scan.problems = {{QueueKind::kActive, "BADBAD01", "no sender record"}};
  return QueueSnapshot::Build(std::move(scan), 7);
}

std::vector<std::string> Ids(const QueueSnapshot& s, const Filter& f,
                             const ListCursor* after, size_t limit,
                             std::optional<ListCursor>* next = nullptr) {
  std::vector<std::string> ids;
  auto n = s.List(f, kNow, after, limit, [&](const QueueSnapshot::View& v) {
    ids.emplace_back(v.id());
  });
  if (next) *next = n;
  return ids;
}

TEST(QueueSnapshotTest, ListsInArrivalThenIdOrderWithoutDuplicates) {
  auto s = Sample();
  EXPECT_EQ(s->size(), 4u);
  EXPECT_EQ(s->generation(), 7);
  EXPECT_THAT(Ids(*s, Filter(), nullptr, 100),
              ElementsAre("AAAAAA02", "AAAAAA03", "AAAAAA00", "AAAAAA01"));
}

TEST(QueueSnapshotTest, PagesResumeAfterTheCursorAndEndWithoutEmptyPage) {
  auto s = Sample();
  std::optional<ListCursor> next;
  EXPECT_THAT(Ids(*s, Filter(), nullptr, 2, &next), ElementsAre("AAAAAA02", "AAAAAA03"));
  ASSERT_TRUE(next.has_value());
  auto token = DecodePageToken(EncodePageToken(*next));
  ASSERT_TRUE(token.ok());
  EXPECT_THAT(Ids(*s, Filter(), &*token, 2, &next), ElementsAre("AAAAAA00", "AAAAAA01"));
  EXPECT_FALSE(next.has_value());
}

TEST(QueueSnapshotTest, FilteredListingVisitsOnlyMatches) {
  auto s = Sample();
  FilterSpec spec;
  spec.pattern = "one.example";
  EXPECT_THAT(Ids(*s, *Filter::Compile(spec), nullptr, 100),
              ElementsAre("AAAAAA02", "AAAAAA03", "AAAAAA01"));
}

TEST(QueueSnapshotTest, BadPageTokensAreRefused) {
  EXPECT_FALSE(DecodePageToken("not base64!").ok());
  EXPECT_FALSE(DecodePageToken("MTIz").ok());  // "123": no id
  EXPECT_FALSE(DecodePageToken(EncodePageToken({5, "../x"})).ok());
}

TEST(QueueSnapshotTest, FindsById) {
  auto s = Sample();
  auto v = s->Find(QueueSource::kPostfix, "AAAAAA02");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->ToMessage().recipients[0].delay_reason, "timeout");
  EXPECT_FALSE(s->Find(QueueSource::kPostfix, "AAAAAA09").has_value());
}

TEST(QueueSnapshotTest, SummaryCountsQueuesAgesDomainsAndReasons) {
  auto s = Sample();
  QueueSummary sum = s->Summarize(Filter(), kNow, 2);
  EXPECT_EQ(sum.total_messages, 4);
  EXPECT_EQ(sum.total_bytes, 3050);
  const QueueStats& d = sum.queues[static_cast<int>(QueueKind::kDeferred)];
  EXPECT_EQ(d.messages, 2);
  EXPECT_EQ(d.recipients, 3);
  EXPECT_EQ(d.age_buckets[0], 1);   // 3 minutes: <= 5
  EXPECT_EQ(d.age_buckets[9], 1);   // 30 hours: > 1280 minutes
  EXPECT_EQ(sum.queues[static_cast<int>(QueueKind::kHold)].age_buckets[2], 1);
  EXPECT_EQ(sum.oldest_queue_id, "AAAAAA02");
  ASSERT_EQ(sum.top_domains.size(), 2u);
  EXPECT_EQ(sum.top_domains[0].domain, "one.example");  // case folded
  EXPECT_EQ(sum.top_domains[0].recipients, 3);
  EXPECT_EQ(sum.top_domains[0].messages, 3);
  ASSERT_EQ(sum.top_delay_reasons.size(), 2u);
  EXPECT_EQ(sum.top_delay_reasons[0].first, "refused");
  EXPECT_EQ(sum.top_delay_reasons[0].second, 2);
  EXPECT_EQ(sum.problem_count, 1);
}

TEST(QueueSnapshotTest, PartsOfAParallelScanJoinIntoOneSnapshot) {
  // Two scanning threads each store their own copy of "one.example" and
  // of the reason; the summary must count both copies as one.
  QueueSnapshot::Builder builder(2);
  auto sinks = builder.sinks();
  sinks[0]->OnMessage(Msg("BBBBBB01", QueueKind::kDeferred, absl::Minutes(1),
                          {{"a@one.example", "", "refused"}}));
  sinks[1]->OnMessage(Msg("BBBBBB02", QueueKind::kDeferred, absl::Minutes(2),
                          {{"b@one.example", "", "refused"}}));
  sinks[1]->OnMessage(Msg("BBBBBB03", QueueKind::kHold, absl::Minutes(3),
                          {{"c@two.example", "", ""}}));
  sinks[0]->OnProblem({QueueKind::kActive, "BADBAD02", "damaged"});
  auto built = builder.Finish(3, kNow, absl::Seconds(1));
  ASSERT_TRUE(built.ok());
  const QueueSnapshot& s = **built;
  EXPECT_THAT(Ids(s, Filter(), nullptr, 10), ElementsAre("BBBBBB03", "BBBBBB02", "BBBBBB01"));
  ASSERT_TRUE(s.Find(QueueSource::kPostfix, "BBBBBB02").has_value());
  EXPECT_EQ(s.Find(QueueSource::kPostfix, "BBBBBB02")->recipient_address(0), "b@one.example");
  QueueSummary sum = s.Summarize(Filter(), kNow, 5);
  ASSERT_FALSE(sum.top_domains.empty());
  EXPECT_EQ(sum.top_domains[0].domain, "one.example");
  EXPECT_EQ(sum.top_domains[0].recipients, 2);
  EXPECT_EQ(sum.top_domains[0].messages, 2);
  ASSERT_EQ(sum.top_delay_reasons.size(), 1u);
  EXPECT_EQ(sum.top_delay_reasons[0].second, 2);
  EXPECT_EQ(sum.problem_count, 1);
}

TEST(QueueSnapshotTest, UpdatesMoveAndRemoveMessagesWithoutARescan) {
  auto s = Sample();
  std::vector<QueueSnapshot::EntryUpdate> updates(3);
  updates[0].queue_id = "AAAAAA01";
  updates[0].queue = QueueKind::kHold;
  updates[1].queue_id = "AAAAAA02";  // gone
  updates[2].queue_id = "NOTTHERE";  // ignored
  updates[2].queue = QueueKind::kHold;
  auto t = s->WithUpdates(updates, 8);
  EXPECT_EQ(t->generation(), 8);
  EXPECT_EQ(s->size(), 4u);  // the original is untouched
  EXPECT_THAT(Ids(*t, Filter(), nullptr, 10), ElementsAre("AAAAAA03", "AAAAAA00", "AAAAAA01"));
  ASSERT_TRUE(t->Find(QueueSource::kPostfix, "AAAAAA01").has_value());
  EXPECT_EQ(t->Find(QueueSource::kPostfix, "AAAAAA01")->queue_kind(), QueueKind::kHold);
  EXPECT_EQ(t->Find(QueueSource::kPostfix, "AAAAAA01")->recipient_address(1), "b@two.example");
  EXPECT_FALSE(t->Find(QueueSource::kPostfix, "AAAAAA02").has_value());
  EXPECT_TRUE(t->Find(QueueSource::kPostfix, "AAAAAA00").has_value());
  EXPECT_EQ(t->Summarize(Filter(), kNow, 5).queues[static_cast<int>(QueueKind::kHold)].messages, 2);
}

TEST(QueueSnapshotTest, StoresRepeatedStringsOnce) {
  postfix::ScanResult scan;
  std::string reason(200, 'r');
  for (int i = 0; i < 1000; ++i) {
    scan.messages.push_back(Msg(absl::StrCat("AB", 100000 + i), QueueKind::kDeferred,
                                absl::Minutes(i), {{"same@example.com", "", reason}}));
  }
  auto s = QueueSnapshot::Build(std::move(scan), 1);
  EXPECT_LT(s->MemoryBytes(), 1000u * 150u);
}

}  // namespace
}  // namespace mailfleet
