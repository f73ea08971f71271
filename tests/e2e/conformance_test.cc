// The agent's listing equals `postqueue -j`, message for message and field
// for field, and its raw content equals `postcat -bh`, on a real Postfix
// filled over SMTP.
#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/service/proto_convert.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/agent_harness.h"
#include "tests/e2e/postqueue_json.h"
#include "tests/e2e/support/message_generator.h"
#include "tests/e2e/support/postfix_instance.h"
#include "tests/e2e/support/smtp_sender.h"

namespace mailfleet::testing {
namespace {

std::string QueueName(v1::QueueKind kind) {
  auto core = FromProto(kind);
  return core.ok() ? std::string(QueueKindName(*core)) : "?";
}

// Fills an instance, holds every seventh message, and keeps it for the
// suite: filling is the slow part.
class PostfixQueue {
 public:
  static absl::StatusOr<std::unique_ptr<PostfixQueue>> Make(int messages,
                                                            bool long_ids,
                                                            uint32_t seed) {
    auto q = std::make_unique<PostfixQueue>();
    PostfixInstanceOptions options;
    options.long_queue_ids = long_ids;
    auto postfix = PostfixInstance::Create(options);
    if (!postfix.ok()) return postfix.status();
    q->postfix = *std::move(postfix);
    absl::Status s = SendMessages(q->postfix->smtp_port(),
                                  GenerateVariedMessages(messages, seed), 4);
    if (!s.ok()) return s;
    s = q->postfix->WaitForQueueToSettle(absl::Minutes(3));
    if (!s.ok()) return s;
    auto json = q->postfix->PostqueueJson();
    if (!json.ok()) return json.status();
    auto entries = ParsePostqueueJson(*json);
    if (!entries.ok()) return entries.status();
    std::string hold;
    int i = 0;
    for (const auto& [id, e] : *entries) {
      if (i++ % 7 == 0) absl::StrAppend(&hold, id, "\n");
    }
    ProcessOptions in;
    in.stdin_text = hold;
    auto held = q->postfix->RunTool({"postsuper", "-h", "-"}, in);
    if (!held.ok()) return held.status();
    if (held->exit_code != 0) return absl::InternalError(held->stderr_text);
    return q;
  }

  std::unique_ptr<PostfixInstance> postfix;
};

void ExpectListingEqualsPostqueue(
    PostfixInstance& postfix, AgentHarness& agent, size_t expected_messages,
    const std::set<std::string>& expected_queues = {"deferred", "hold"}) {
  auto json = postfix.PostqueueJson();
  ASSERT_TRUE(json.ok()) << json.status();
  auto expected = ParsePostqueueJson(*json);
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_TRUE(agent.index().Rescan().ok());
  auto listed = agent.ListAll({}, 777);
  ASSERT_TRUE(listed.ok()) << listed.status();

  EXPECT_EQ(expected->size(), expected_messages);
  EXPECT_EQ(listed->size(), expected->size());
  std::set<std::string> queues;
  int with_reasons = 0, quoted = 0;
  for (const v1::Message& m : *listed) {
    SCOPED_TRACE(m.queue_id());
    auto it = expected->find(m.queue_id());
    ASSERT_NE(it, expected->end()) << "agent lists a message postqueue does not";
    const PostqueueEntry& e = it->second;
    EXPECT_EQ(QueueName(m.queue()), e.queue_name);
    EXPECT_EQ(m.arrival_time().seconds(), e.arrival_time);
    EXPECT_EQ(m.size(), e.message_size);
    EXPECT_EQ(m.forced_expire(), e.forced_expire);
    EXPECT_EQ(m.sender(), e.sender);
    EXPECT_EQ(m.parse_error(), "");
    std::vector<PostqueueRecipient> rcpts;
    for (const auto& r : m.recipients()) {
      rcpts.push_back({r.address(), r.delay_reason()});
      if (!r.delay_reason().empty()) ++with_reasons;
      if (r.address()[0] == '"') ++quoted;
    }
    EXPECT_EQ(rcpts, e.recipients);
    EXPECT_EQ(m.client_address(), "127.0.0.1");
    if (m.queue() == v1::POSTFIX_DEFERRED) {
      EXPECT_GT(m.next_attempt_time().seconds(), m.arrival_time().seconds());
    }
    queues.insert(e.queue_name);
  }
  // The comparison means something only if the queue has what it should.
  EXPECT_EQ(queues, expected_queues);
  EXPECT_GT(with_reasons, static_cast<int>(expected_messages));
  EXPECT_GT(quoted, 0);
}

class ShortIdConformanceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto q = PostfixQueue::Make(kMessages, /*long_ids=*/false, 2026);
    ASSERT_TRUE(q.ok()) << q.status();
    queue_ = q->release();
  }
  static void TearDownTestSuite() {
    delete queue_;
    queue_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(queue_, nullptr);
    auto agent = AgentHarness::Start(queue_->postfix->config_dir());
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = *std::move(agent);
  }

  static constexpr int kMessages = 3000;
  static PostfixQueue* queue_;
  std::unique_ptr<AgentHarness> agent_;
};
PostfixQueue* ShortIdConformanceTest::queue_ = nullptr;

TEST_F(ShortIdConformanceTest, ListingEqualsPostqueueWhileMasterRuns) {
  ExpectListingEqualsPostqueue(*queue_->postfix, *agent_, kMessages);
}

TEST_F(ShortIdConformanceTest, ListingEqualsPostqueueWithMasterStopped) {
  ASSERT_TRUE(queue_->postfix->StopMaster().ok());
  ExpectListingEqualsPostqueue(*queue_->postfix, *agent_, kMessages);
  ASSERT_TRUE(queue_->postfix->StartMaster().ok());
}

TEST_F(ShortIdConformanceTest, RawContentEqualsPostcat) {
  auto listed = agent_->ListAll();
  ASSERT_TRUE(listed.ok());
  // The largest messages, the smallest, and some in between.
  std::vector<v1::Message> all = *listed;
  std::sort(all.begin(), all.end(),
            [](const v1::Message& a, const v1::Message& b) { return a.size() < b.size(); });
  std::vector<std::string> ids;
  for (size_t i : {size_t{0}, all.size() / 3, all.size() / 2, all.size() - 2,
                   all.size() - 1}) {
    ids.push_back(all[i].queue_id());
  }
  for (size_t i = 0; i < all.size(); i += all.size() / 7) ids.push_back(all[i].queue_id());
  for (const std::string& id : ids) {
    SCOPED_TRACE(id);
    auto postcat = queue_->postfix->RunTool({"postcat", "-bh", "-q", id});
    ASSERT_TRUE(postcat.ok()) << postcat.status();
    ASSERT_EQ(postcat->exit_code, 0) << postcat->stderr_text;
    auto content = agent_->Content(id);
    ASSERT_TRUE(content.ok()) << content.status();
    EXPECT_EQ(*content, postcat->stdout_text);
  }
  EXPECT_GT(all.back().size(), 150 * 1024);
}

TEST_F(ShortIdConformanceTest, FilteredListingMatchesAGrepOfPostqueue) {
  auto json = queue_->postfix->PostqueueJson();
  ASSERT_TRUE(json.ok());
  auto expected = ParsePostqueueJson(*json);
  ASSERT_TRUE(expected.ok());
  const std::string domain = RecipientDomains()[3];
  std::set<std::string> want;
  for (const auto& [id, e] : *expected) {
    for (const auto& r : e.recipients) {
      if (absl::EndsWith(r.address, "@" + domain)) want.insert(id);
    }
  }
  v1::Filter filter;
  filter.set_pattern(absl::StrCat("@", domain, "$"));
  filter.set_regex(true);
  filter.add_fields(v1::MATCH_FIELD_RECIPIENT);
  auto listed = agent_->ListAll(filter, 100);
  ASSERT_TRUE(listed.ok());
  std::set<std::string> got;
  for (const auto& m : *listed) got.insert(m.queue_id());
  EXPECT_FALSE(want.empty());
  EXPECT_EQ(got, want);
}

TEST_F(ShortIdConformanceTest, SummaryCountsWhatPostqueueLists) {
  auto json = queue_->postfix->PostqueueJson();
  ASSERT_TRUE(json.ok());
  auto expected = ParsePostqueueJson(*json);
  ASSERT_TRUE(expected.ok());
  std::map<std::string, int64_t> count;
  for (const auto& [id, e] : *expected) count[e.queue_name]++;
  grpc::ClientContext ctx;
  v1::SummaryResponse resp;
  ASSERT_TRUE(agent_->stub().Summary(&ctx, {}, &resp).ok());
  EXPECT_EQ(resp.summary().total_messages(), static_cast<int64_t>(expected->size()));
  for (const auto& q : resp.summary().queues()) {
    EXPECT_EQ(q.messages(), count[QueueName(q.queue())]) << QueueName(q.queue());
  }
  EXPECT_EQ(resp.summary().scan_problem_count(), 0);
  EXPECT_EQ(resp.agent().postfix_version(), "3.7.11");
  ASSERT_GT(resp.summary().top_domains_size(), 0);
  EXPECT_EQ(resp.summary().top_domains(0).domain(), RecipientDomains()[0]);
  ASSERT_GT(resp.summary().top_delay_reasons_size(), 0);
}

TEST(LiveQueueTest, ScanningWhileMailArrivesAndMovesReportsNoProblems) {
  // Files appear half-written (0600), move between queues and vanish while
  // the agent reads: each scan must skip them silently, never report them.
  PostfixInstanceOptions options;
  auto postfix = PostfixInstance::Create(options);
  ASSERT_TRUE(postfix.ok()) << postfix.status();
  auto agent = AgentHarness::Start((*postfix)->config_dir());
  ASSERT_TRUE(agent.ok()) << agent.status();
  std::atomic<bool> sending{true};
  absl::Status sent;
  std::thread sender([&] {
    sent = SendMessages((*postfix)->smtp_port(), GenerateVariedMessages(1500, 5), 4);
    sending = false;
  });
  int scans = 0;
  while (sending || scans < 3) {
    ASSERT_TRUE((*agent)->index().Rescan().ok());
    auto snapshot = (*agent)->index().Current();
    for (const auto& p : snapshot->problems()) {
      ADD_FAILURE() << QueueKindName(p.queue) << " " << p.queue_id << ": " << p.reason;
    }
    ++scans;
  }
  sender.join();
  ASSERT_TRUE(sent.ok()) << sent;
  EXPECT_GT(scans, 3);
  ASSERT_TRUE((*postfix)->WaitForQueueToSettle(absl::Minutes(2)).ok());
  ExpectListingEqualsPostqueue(**postfix, **agent, 1500, {"deferred"});
}

TEST(LongIdConformanceTest, ListingEqualsPostqueueWithLongQueueIds) {
  auto q = PostfixQueue::Make(400, /*long_ids=*/true, 7);
  ASSERT_TRUE(q.ok()) << q.status();
  auto agent = AgentHarness::Start((*q)->postfix->config_dir());
  ASSERT_TRUE(agent.ok()) << agent.status();
  ExpectListingEqualsPostqueue(*(*q)->postfix, **agent, 400);
  auto listed = (*agent)->ListAll();
  ASSERT_TRUE(listed.ok());
  ASSERT_FALSE(listed->empty());
  EXPECT_NE(listed->front().queue_id().find('z'), std::string::npos);
  auto content = (*agent)->Content(listed->front().queue_id());
  EXPECT_TRUE(content.ok()) << content.status();
}

}  // namespace
}  // namespace mailfleet::testing
