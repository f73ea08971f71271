#include "common/filter.h"

#include "common/message.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mailfleet {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1700010000);

Message Sample() {
  Message m;
  m.queue_id = "C3CD21F3E90";
  m.queue = QueueKind::kDeferred;
  m.arrival_time = kNow - absl::Hours(2);
  m.size = 5000;
  m.sender = "Alice@Example.COM";
  m.client_address = "192.0.2.7";
  m.recipients = {{"bob@example.net", "", "connect to mx.example.net: Connection refused"},
                  {"carol@other.org", "list@other.org", ""}};
  return m;
}

Filter Compile(FilterSpec spec) {
  auto f = Filter::Compile(spec);
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? *f : Filter();
}

TEST(FilterTest, EmptyFilterSelectsEverything) {
  Filter f;
  EXPECT_TRUE(f.SelectsEverything());
  EXPECT_TRUE(f.Matches(Sample(), kNow));
}

TEST(FilterTest, SubstringIsCaseInsensitiveOverAllFields) {
  FilterSpec s;
  s.pattern = "alice@example.com";
  EXPECT_TRUE(Compile(s).Matches(Sample(), kNow));
  s.pattern = "REFUSED";
  EXPECT_TRUE(Compile(s).Matches(Sample(), kNow));
  s.pattern = "LIST@other";  // original recipient counts as recipient
  EXPECT_TRUE(Compile(s).Matches(Sample(), kNow));
  s.pattern = "nobody";
  EXPECT_FALSE(Compile(s).Matches(Sample(), kNow));
}

TEST(FilterTest, FieldsRestrictWhereThePatternIsSought) {
  FilterSpec s;
  s.pattern = "example.net";
  s.fields = {MatchField::kSender};
  EXPECT_FALSE(Compile(s).Matches(Sample(), kNow));
  s.fields = {MatchField::kRecipient};
  EXPECT_TRUE(Compile(s).Matches(Sample(), kNow));
  s.pattern = "192.0.2";
  s.fields = {MatchField::kClientAddress};
  EXPECT_TRUE(Compile(s).Matches(Sample(), kNow));
  s.pattern = "F3E9";
  s.fields = {MatchField::kQueueId};
  EXPECT_TRUE(Compile(s).Matches(Sample(), kNow));
}

TEST(FilterTest, RegexIsRe2AndCaseInsensitive) {
  FilterSpec s;
  s.regex = true;
  s.pattern = "@(example|other)\\.(net|org)$";
  s.fields = {MatchField::kRecipient};
  EXPECT_TRUE(Compile(s).Matches(Sample(), kNow));
  s.pattern = "^BOB@";
  EXPECT_TRUE(Compile(s).Matches(Sample(), kNow));
  s.pattern = "^dave@";
  EXPECT_FALSE(Compile(s).Matches(Sample(), kNow));
}

TEST(FilterTest, QueuesAgesAndSizes) {
  FilterSpec s;
  s.queues = {QueueKind::kHold};
  EXPECT_FALSE(Compile(s).Matches(Sample(), kNow));
  s.queues = {QueueKind::kHold, QueueKind::kDeferred};
  EXPECT_TRUE(Compile(s).Matches(Sample(), kNow));
  s = {};
  s.min_age = absl::Hours(1);
  EXPECT_TRUE(Compile(s).Matches(Sample(), kNow));
  s.min_age = absl::Hours(3);
  EXPECT_FALSE(Compile(s).Matches(Sample(), kNow));
  s = {};
  s.max_age = absl::Minutes(30);
  EXPECT_FALSE(Compile(s).Matches(Sample(), kNow));
  s = {};
  s.min_size = 5000;
  s.max_size = 5000;
  EXPECT_TRUE(Compile(s).Matches(Sample(), kNow));
  s.min_size = 5001;
  s.max_size = 0;
  EXPECT_FALSE(Compile(s).Matches(Sample(), kNow));
}

TEST(FilterTest, BadFiltersAreRefusedWithAReason) {
  auto error = [](FilterSpec s) {
    return std::string(Filter::Compile(s).status().message());
  };
  FilterSpec s;
  s.regex = true;
  s.pattern = "a(b";
  EXPECT_THAT(error(s), HasSubstr("invalid regular expression"));
  s = {};
  s.regex = true;
  EXPECT_THAT(error(s), HasSubstr("empty"));
  s = {};
  s.pattern = std::string(kMaxPatternLength + 1, 'a');
  EXPECT_THAT(error(s), HasSubstr("limit"));
  s = {};
  s.min_size = 10;
  s.max_size = 5;
  EXPECT_THAT(error(s), HasSubstr("greater than"));
  s = {};
  s.min_age = absl::Hours(2);
  s.max_age = absl::Hours(1);
  EXPECT_THAT(error(s), HasSubstr("greater than"));
  s = {};
  s.min_size = -1;
  EXPECT_THAT(error(s), HasSubstr("negative"));
}

// Found by fuzz_filter: a queue value past the last known one made
// Compile throw std::out_of_range from the queue bitset.
TEST(FilterTest, QueueOutOfRangeIsRefusedNotThrown) {
  FilterSpec s;
  s.queues = {QueueKind::kDeferred, static_cast<QueueKind>(kQueueKindCount)};
  EXPECT_THAT(Filter::Compile(s).status().message(),
              HasSubstr("unknown queue (11)"));
  s.queues = {static_cast<QueueKind>(255)};
  EXPECT_TRUE(absl::IsInvalidArgument(Filter::Compile(s).status()));
  s.queues = {QueueKind::kUnknown};
  EXPECT_TRUE(absl::IsInvalidArgument(Filter::Compile(s).status()));
}

TEST(FilterTest, ARegexTooCostlyToMatchIsRefused) {
  FilterSpec s;
  s.regex = true;
  s.pattern = "(?:.?){1000}x";  // short, but 9,000 instructions
  absl::Status refused = Filter::Compile(s).status();
  EXPECT_TRUE(absl::IsInvalidArgument(refused));
  EXPECT_THAT(refused.message(), HasSubstr("too costly to match"));
  s.pattern = "^[a-z0-9._%+-]+@(gmail|yahoo)\\.com$";
  EXPECT_TRUE(Filter::Compile(s).ok());
  s.pattern = "(?:\\w+\\s){50}";
  EXPECT_TRUE(Filter::Compile(s).ok());
}

}  // namespace
}  // namespace mailfleet
