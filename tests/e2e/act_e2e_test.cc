// Act and Flush of the agent's service on a real Postfix: postqueue -j
// afterwards shows exactly what was asked for, the agent's own listing
// agrees at once, and refused requests change nothing.
#include <set>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/agent_harness.h"
#include "tests/e2e/postqueue_json.h"
#include "tests/e2e/support/message_generator.h"
#include "tests/e2e/support/postfix_instance.h"
#include "tests/e2e/support/smtp_sender.h"

namespace mailfleet::testing {
namespace {

using ::testing::HasSubstr;

class ActE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto postfix = PostfixInstance::Create({});
    ASSERT_TRUE(postfix.ok()) << postfix.status();
    postfix_ = *std::move(postfix);
    ASSERT_TRUE(SendMessages(postfix_->smtp_port(), GenerateVariedMessages(400, 21), 4).ok());
    ASSERT_TRUE(postfix_->WaitForQueueToSettle(absl::Minutes(2)).ok());
    auto agent = AgentHarness::Start(postfix_->config_dir());
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = *std::move(agent);
  }

  std::map<std::string, PostqueueEntry> Queue() {
    auto json = postfix_->PostqueueJson();
    auto q = ParsePostqueueJson(json.ok() ? *json : "");
    return q.ok() ? *q : std::map<std::string, PostqueueEntry>{};
  }
  std::set<std::string> Ids(const std::string& queue) {
    std::set<std::string> ids;
    for (const auto& [id, e] : Queue()) {
      if (queue.empty() || e.queue_name == queue) ids.insert(id);
    }
    return ids;
  }
  // Messages with a recipient in `domain`, per postqueue.
  std::set<std::string> ToDomain(const std::string& domain) {
    std::set<std::string> ids;
    for (const auto& [id, e] : Queue()) {
      for (const auto& r : e.recipients) {
        if (absl::EndsWith(r.address, "@" + domain)) ids.insert(id);
      }
    }
    return ids;
  }
  grpc::Status Act(const v1::ActRequest& req, v1::ActResponse* resp) {
    grpc::ClientContext ctx;
    return agent_->stub().Act(&ctx, req, resp);
  }
  v1::ActRequest ByRegex(v1::Action action, const std::string& regex) {
    v1::ActRequest req;
    req.set_action(action);
    req.mutable_selector()->mutable_filter()->set_pattern(regex);
    req.mutable_selector()->mutable_filter()->set_regex(true);
    req.mutable_selector()->mutable_filter()->add_fields(v1::MATCH_FIELD_RECIPIENT);
    return req;
  }
  std::set<std::string> Listed(v1::QueueKind queue) {
    v1::Filter f;
    f.add_queues(queue);
    auto listed = agent_->ListAll(f);
    std::set<std::string> ids;
    for (const auto& m : *listed) ids.insert(m.queue_id());
    return ids;
  }

  std::unique_ptr<PostfixInstance> postfix_;
  std::unique_ptr<AgentHarness> agent_;
};

TEST_F(ActE2eTest, HoldByRegexHoldsExactlyTheMatchingMessagesThenReleaseAndDelete) {
  const std::string domain = RecipientDomains()[2];
  const std::set<std::string> matching = ToDomain(domain);
  ASSERT_GT(matching.size(), 3u);
  const std::string regex = "@" + domain + "$";

  v1::ActResponse dry;
  v1::ActRequest req = ByRegex(v1::ACTION_HOLD, regex);
  req.set_dry_run(true);
  ASSERT_TRUE(Act(req, &dry).ok());
  EXPECT_EQ(dry.matched(), static_cast<int64_t>(matching.size()));
  EXPECT_TRUE(Ids("hold").empty());  // a dry run changes nothing

  v1::ActResponse held;
  ASSERT_TRUE(Act(ByRegex(v1::ACTION_HOLD, regex), &held).ok());
  EXPECT_EQ(held.succeeded(), static_cast<int64_t>(matching.size()));
  EXPECT_EQ(held.failed(), 0);
  EXPECT_EQ(Ids("hold"), matching);
  EXPECT_EQ(Listed(v1::POSTFIX_HOLD), matching);  // the index knows at once

  v1::ActResponse released;
  ASSERT_TRUE(Act(ByRegex(v1::ACTION_RELEASE, regex), &released).ok());
  EXPECT_EQ(released.succeeded(), static_cast<int64_t>(matching.size()));
  EXPECT_TRUE(Ids("hold").empty());
  EXPECT_TRUE(Listed(v1::POSTFIX_HOLD).empty());

  const std::set<std::string> before = Ids("");
  v1::ActRequest del;
  del.set_action(v1::ACTION_DELETE);
  auto it = matching.begin();
  std::set<std::string> doomed = {*it++, *it++, *it};
  for (const auto& id : doomed) del.mutable_selector()->add_queue_ids(id);
  del.mutable_selector()->add_queue_ids("B0B0B0B0B0");  // another gateway's
  v1::ActResponse deleted;
  ASSERT_TRUE(Act(del, &deleted).ok());
  EXPECT_EQ(deleted.succeeded(), 3);
  ASSERT_EQ(deleted.failures_size(), 1);
  EXPECT_EQ(deleted.failures(0).queue_id(), "B0B0B0B0B0");
  std::set<std::string> after = Ids("");
  EXPECT_EQ(after.size(), before.size() - 3);
  for (const auto& id : before) EXPECT_EQ(after.count(id), doomed.count(id) ? 0u : 1u) << id;
  EXPECT_EQ(Listed(v1::POSTFIX_DEFERRED).size(), after.size());
}

TEST_F(ActE2eTest, RequeueChangesTheQueueStateAsPostfixReportsIt) {
  const std::string id = *Ids("deferred").begin();
  v1::ActRequest req;
  req.set_action(v1::ACTION_REQUEUE);
  req.mutable_selector()->add_queue_ids(id);
  v1::ActResponse resp;
  ASSERT_TRUE(Act(req, &resp).ok());
  EXPECT_EQ(resp.succeeded(), 1);
  auto q = Queue();
  EXPECT_TRUE(q.count(id) == 0 || q.at(id).queue_name != "deferred");
}

TEST_F(ActE2eTest, BadRequestsAreRefusedWithNoSideEffect) {
  const std::set<std::string> before = Ids("deferred");
  struct Case {
    v1::ActRequest req;
    std::string says;
  };
  std::vector<Case> cases;
  for (const char* id : {"C0FFEG", "C0FFE", "../x", "c0ffee1234", "ABCDEF12345\nALL"}) {
    v1::ActRequest r;
    r.set_action(v1::ACTION_DELETE);
    r.mutable_selector()->add_queue_ids(*before.begin());  // a real one too
    r.mutable_selector()->add_queue_ids(id);
    cases.push_back({r, "queue id"});
  }
  cases.push_back({ByRegex(v1::ACTION_DELETE, "(unclosed"), "regular expression"});
  v1::ActRequest everything;
  everything.set_action(v1::ACTION_DELETE);
  everything.mutable_selector()->mutable_filter();
  cases.push_back({everything, "all"});
  cases.push_back({ByRegex(v1::ACTION_DELETE, "."), "every message"});
  for (const Case& c : cases) {
    v1::ActResponse resp;
    grpc::Status s = Act(c.req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.says;
    EXPECT_THAT(s.error_message(), HasSubstr(c.says));
  }
  EXPECT_EQ(Ids("deferred"), before);
}

TEST_F(ActE2eTest, FlushFailsClearlyWhenTheMasterIsDown) {
  grpc::ClientContext ctx;
  v1::FlushRequest req;
  req.set_all(true);
  v1::FlushResponse resp;
  EXPECT_TRUE(agent_->stub().Flush(&ctx, req, &resp).ok());
  ASSERT_TRUE(postfix_->StopMaster().ok());
  grpc::ClientContext ctx2;
  grpc::Status s = agent_->stub().Flush(&ctx2, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("not running"));
}

}  // namespace
}  // namespace mailfleet::testing
