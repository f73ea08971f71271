// PostfixTools against a real Postfix: what postsuper and postqueue report
// afterwards is exactly what was asked for, and nothing else changed.
#include "agent/postfix/postfix_tools.h"

#include <set>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/postqueue_json.h"
#include "tests/e2e/support/message_generator.h"
#include "tests/e2e/support/postfix_instance.h"
#include "tests/e2e/support/smtp_sender.h"

namespace mailfleet::testing {
namespace {

using postfix::PostfixTools;
using postfix::QueueAction;
using ::testing::UnorderedElementsAreArray;

class PostfixToolsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto postfix = PostfixInstance::Create({});
    ASSERT_TRUE(postfix.ok()) << postfix.status();
    postfix_ = *std::move(postfix);
    ASSERT_TRUE(SendMessages(postfix_->smtp_port(), GenerateVariedMessages(300, 11), 4).ok());
    ASSERT_TRUE(postfix_->WaitForQueueToSettle(absl::Minutes(2)).ok());
    tools_ = std::make_unique<PostfixTools>(&runner_, postfix_->config_dir());
  }

  std::map<std::string, PostqueueEntry> Queue() {
    auto json = postfix_->PostqueueJson();
    EXPECT_TRUE(json.ok());
    auto q = ParsePostqueueJson(json.ok() ? *json : "");
    EXPECT_TRUE(q.ok());
    return q.ok() ? *q : std::map<std::string, PostqueueEntry>{};
  }
  std::set<std::string> InQueue(const std::string& name) {
    std::set<std::string> ids;
    for (const auto& [id, e] : Queue()) {
      if (e.queue_name == name) ids.insert(id);
    }
    return ids;
  }

  RealProcessRunner runner_;
  std::unique_ptr<PostfixInstance> postfix_;
  std::unique_ptr<PostfixTools> tools_;
};

TEST_F(PostfixToolsE2eTest, HoldReleaseAndDeleteActOnExactlyTheGivenMessages) {
  auto before = Queue();
  ASSERT_EQ(before.size(), 300u);
  std::vector<std::string> chosen;
  for (const auto& [id, e] : before) {
    for (const auto& r : e.recipients) {
      if (absl::EndsWith(r.address, "@" + RecipientDomains()[1])) {
        chosen.push_back(id);
        break;
      }
    }
  }
  ASSERT_GT(chosen.size(), 5u);
  std::vector<std::string> asked = chosen;
  asked.push_back("ABCDEF0123");  // not in the queue: reported, not fatal
  auto held = tools_->Apply(QueueAction::kHold, asked);
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_THAT(held->succeeded, UnorderedElementsAreArray(chosen));
  ASSERT_EQ(held->failed.size(), 1u);
  EXPECT_EQ(held->failed[0].queue_id, "ABCDEF0123");
  EXPECT_EQ(InQueue("hold"), std::set<std::string>(chosen.begin(), chosen.end()));

  auto released = tools_->Apply(QueueAction::kRelease, chosen);
  ASSERT_TRUE(released.ok());
  EXPECT_EQ(released->succeeded.size(), chosen.size());
  EXPECT_TRUE(InQueue("hold").empty());

  std::vector<std::string> doomed(chosen.begin(), chosen.begin() + 5);
  auto deleted = tools_->Apply(QueueAction::kDelete, doomed);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->succeeded.size(), 5u);
  auto after = Queue();
  EXPECT_EQ(after.size(), 295u);
  for (const auto& id : doomed) EXPECT_EQ(after.count(id), 0u) << id;
  for (const auto& [id, e] : before) {
    if (std::find(doomed.begin(), doomed.end(), id) == doomed.end()) {
      EXPECT_EQ(after.count(id), 1u) << id;
    }
  }
}

TEST_F(PostfixToolsE2eTest, RequeueAndExpireChangeStateAsPostfixReportsIt) {
  auto before = Queue();
  auto it = before.begin();
  const std::string requeued = (it++)->first;
  const std::string expired = it->first;
  auto r = tools_->Apply(QueueAction::kRequeue, {requeued});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->succeeded.size(), 1u);
  auto e = tools_->Apply(QueueAction::kExpire, {expired});
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->succeeded.size(), 1u);
  auto after = Queue();
  // Requeued mail leaves deferred for maildrop (then a new id via pickup).
  EXPECT_TRUE(after.count(requeued) == 0 || after.at(requeued).queue_name != "deferred");
  if (after.count(expired)) {
    EXPECT_TRUE(after.at(expired).forced_expire);
  }
}

TEST_F(PostfixToolsE2eTest, FlushWorksWhileRunningAndSaysWhenTheMasterIsDown) {
  EXPECT_TRUE(tools_->FlushAll().ok());
  ASSERT_TRUE(postfix_->StopMaster().ok());
  absl::Time start = absl::Now();
  absl::Status s = tools_->FlushAll();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(tools_->FlushSite("example.com").code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace mailfleet::testing
