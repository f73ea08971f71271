// The MPA spool through the agent's service, over real gRPC in-process: the
// spool's items beside Postfix's messages in List, Summary, GetMessage,
// Act and Watch, on a fake filesystem.
#include <grpcpp/grpcpp.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/in_process_agent.h"

namespace mailfleet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kTemplateError[] =
    "invalid template: encryption template 'partner-tls' not found";

class MpaServiceTest : public ::mailfleet::testing::InProcessAgentTest {
 protected:
  void SetUp() override {
    with_spool_ = true;
    limits_.throttle_spool = 2;
    limits_.throttle_error = 3;
    limits_.refuse_spool = 4;
  }

  grpc::Status Act(v1::Action action, const std::vector<std::string>& ids,
                   v1::ActResponse* resp,
                   const std::vector<v1::QueueKind>& queues = {}) {
    grpc::ClientContext ctx;
    v1::ActRequest req;
    req.set_action(action);
    for (const std::string& id : ids) req.mutable_selector()->add_queue_ids(id);
    for (v1::QueueKind q : queues) req.mutable_selector()->mutable_filter()->add_queues(q);
    return stub_->Act(&ctx, req, resp);
  }

  // The queue ids of every file under `dir` of the spool, sorted.
  std::vector<std::string> FilesIn(const std::string& dir) {
    auto entries = fs_.ListDir(absl::StrCat(kSpoolRoot, "/", dir));
    std::vector<std::string> names;
    if (!entries.ok()) return names;
    for (const DirEntry& e : *entries) names.push_back(e.name);
    std::sort(names.begin(), names.end());
    return names;
  }

  v1::SummaryResponse Summary(v1::Filter filter = {}) {
    grpc::ClientContext ctx;
    v1::SummaryRequest req;
    *req.mutable_filter() = filter;
    v1::SummaryResponse resp;
    EXPECT_TRUE(stub_->Summary(&ctx, req, &resp).ok());
    return resp;
  }

  // The whole GetMessage stream: envelope and content, or its error.
  grpc::Status Get(const std::string& id, v1::QueueKind queue, v1::Message* envelope,
                   std::string* content) {
    grpc::ClientContext ctx;
    v1::GetMessageRequest req;
    req.set_queue_id(id);
    req.set_queue(queue);
    auto reader = stub_->GetMessage(&ctx, req);
    v1::GetMessageResponse part;
    while (reader->Read(&part)) {
      if (part.has_envelope()) *envelope = part.envelope();
      content->append(part.content());
    }
    return reader->Finish();
  }
};

TEST_F(MpaServiceTest, ItemsAreListedBesideMessagesWithTheirErrorAndAttempts) {
  AddItem("error", "err-1", kTemplateError);
  AddItem("spool", "sp-1");
  StartAgent();
  grpc::ClientContext ctx;
  v1::ListRequest req;
  req.mutable_filter()->add_queues(v1::MPA_ERROR);
  v1::ListResponse resp;
  ASSERT_TRUE(stub_->List(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.messages_size(), 1);
  const v1::Message& m = resp.messages(0);
  EXPECT_EQ(m.queue_id(), "err-1");
  EXPECT_EQ(m.queue(), v1::MPA_ERROR);
  EXPECT_EQ(m.sender(), "mpa-sender@example.com");
  EXPECT_EQ(m.mpa_error(), kTemplateError);
  EXPECT_EQ(m.mpa_attempts(), 2);
  EXPECT_EQ(m.arrival_time().seconds(), 1700000100);
  ASSERT_EQ(m.recipients_size(), 2);
  EXPECT_EQ(m.recipients(0).delay_reason(), kTemplateError);

  // The error is a delay reason like any other: filters and top lists see it.
  v1::Filter by_reason;
  by_reason.set_pattern("partner-tls");
  const v1::SummaryResponse sum = Summary(by_reason);
  EXPECT_EQ(sum.summary().total_messages(), 1);
  ASSERT_GE(sum.summary().top_delay_reasons_size(), 1);
  EXPECT_EQ(sum.summary().top_delay_reasons(0).reason(), kTemplateError);
}

TEST_F(MpaServiceTest, SummaryReportsTheThrottleStateWithItsLimits) {
  StartAgent();
  v1::MpaThrottle t = Summary().summary().mpa_throttle();
  EXPECT_EQ(t.state(), v1::MpaThrottle::NORMAL);
  EXPECT_EQ(t.limits().throttle_spool(), 2);
  EXPECT_EQ(t.limits().throttle_error(), 3);
  EXPECT_EQ(t.limits().refuse_spool(), 4);

  // Past a limit, not at it.
  for (int i = 0; i < 2; ++i) AddItem("spool", absl::StrCat("s", i));
  ASSERT_TRUE(index_->Rescan().ok());
  EXPECT_EQ(Summary().summary().mpa_throttle().state(), v1::MpaThrottle::NORMAL);
  AddItem("spool", "s2");
  ASSERT_TRUE(index_->Rescan().ok());
  t = Summary().summary().mpa_throttle();
  EXPECT_EQ(t.state(), v1::MpaThrottle::THROTTLING);
  EXPECT_EQ(t.spool_items(), 3);
  AddItem("spool", "s3");
  AddItem("spool", "s4");
  ASSERT_TRUE(index_->Rescan().ok());
  // Whatever the filter asks for, the state is the whole spool's.
  v1::Filter deferred_only;
  deferred_only.add_queues(v1::POSTFIX_DEFERRED);
  t = Summary(deferred_only).summary().mpa_throttle();
  EXPECT_EQ(t.state(), v1::MpaThrottle::REFUSING);
  EXPECT_EQ(t.spool_items(), 5);
}

TEST_F(MpaServiceTest, ErrorItemsAloneThrottle) {
  for (int i = 0; i < 4; ++i) AddItem("error", absl::StrCat("e", i), kTemplateError);
  StartAgent();
  const v1::MpaThrottle t = Summary().summary().mpa_throttle();
  EXPECT_EQ(t.state(), v1::MpaThrottle::THROTTLING);
  EXPECT_EQ(t.error_items(), 4);
  EXPECT_EQ(t.spool_items(), 0);
}

TEST_F(MpaServiceTest, WithoutASpoolThereIsNoThrottleState) {
  with_spool_ = false;
  StartAgent();
  EXPECT_FALSE(Summary().summary().has_mpa_throttle());
}

TEST_F(MpaServiceTest, RespoolMovesExactlyTheSelectedItems) {
  for (const char* id : {"e1", "e2", "e3"}) AddItem("error", id, kTemplateError);
  AddItem("spool", "busy");
  StartAgent();
  v1::ActResponse resp;
  grpc::Status s = Act(v1::ACTION_RESPOOL, {"e1", "e3", "busy", "gone"}, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(resp.queue_ids(), UnorderedElementsAre("e1", "e3"));
  EXPECT_EQ(resp.succeeded(), 2);
  EXPECT_EQ(resp.failed(), 2);
  ASSERT_EQ(resp.failures_size(), 2);
  for (const v1::ActFailure& f : resp.failures()) {
    if (f.queue_id() == "busy") {
      EXPECT_THAT(f.reason(), HasSubstr("only mpa-error items"));
    } else {
      EXPECT_EQ(f.queue_id(), "gone");
      EXPECT_THAT(f.reason(), HasSubstr("no such MPA item"));
    }
  }
  EXPECT_THAT(FilesIn("error"), ElementsAre("e2.eml", "e2.env"));
  EXPECT_THAT(FilesIn("respool"), ElementsAre("e1.eml", "e1.env", "e3.eml", "e3.env"));
  EXPECT_THAT(FilesIn("spool"), ElementsAre("busy.eml", "busy.env"));
  // The index knows at once, without waiting for the directory's events.
  auto now = index_->Current();
  EXPECT_EQ(now->Find(QueueSource::kMpa, "e1")->queue_kind(), QueueKind::kMpaRespool);
  EXPECT_EQ(now->Find(QueueSource::kMpa, "e2")->queue_kind(), QueueKind::kMpaError);
  // Postfix was never asked.
  absl::MutexLock lock(&runner_.mu);
  EXPECT_TRUE(runner_.calls.empty());
}

TEST_F(MpaServiceTest, RespoolByFilterTakesOnlyErrorItems) {
  AddItem("error", "tpl-1", kTemplateError);
  AddItem("error", "dlp-1", "DLP: policy 'pci' matched, quarantine required");
  AddItem("respool", "tpl-0", kTemplateError);
  StartAgent();
  grpc::ClientContext ctx;
  v1::ActRequest req;
  req.set_action(v1::ACTION_RESPOOL);
  req.mutable_selector()->mutable_filter()->set_pattern("partner-tls");
  v1::ActResponse resp;
  ASSERT_TRUE(stub_->Act(&ctx, req, &resp).ok());
  EXPECT_THAT(resp.queue_ids(), ElementsAre("tpl-1"));
  EXPECT_THAT(FilesIn("error"), ElementsAre("dlp-1.eml", "dlp-1.env"));
}

TEST_F(MpaServiceTest, DeleteTakesErrorAndRespoolItemsOnly) {
  AddItem("error", "e1", kTemplateError);
  AddItem("respool", "r1");
  AddItem("outgoing", "o1");
  StartAgent();
  v1::ActResponse resp;
  ASSERT_TRUE(Act(v1::ACTION_DELETE, {"e1", "r1", "o1"}, &resp).ok());
  EXPECT_THAT(resp.queue_ids(), UnorderedElementsAre("e1", "r1"));
  ASSERT_EQ(resp.failures_size(), 1);
  EXPECT_EQ(resp.failures(0).queue_id(), "o1");
  EXPECT_THAT(FilesIn("error"), ::testing::IsEmpty());
  EXPECT_THAT(FilesIn("respool"), ::testing::IsEmpty());
  EXPECT_THAT(FilesIn("outgoing"), ElementsAre("o1.eml", "o1.env"));
  EXPECT_FALSE(index_->Current()->Find(QueueSource::kMpa, "e1").has_value());
}

TEST_F(MpaServiceTest, IdsAreCheckedAgainstTheSpoolsSyntaxBeforeAnyPathIsBuilt) {
  AddItem("error", "e1", kTemplateError);
  StartAgent();
  for (const char* bad : {"../error/e1", "e1/../../x", "a b", ""}) {
    v1::ActResponse resp;
    grpc::Status s = Act(v1::ACTION_RESPOOL, {bad}, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
  }
  v1::ActResponse resp;
  grpc::Status s = Act(v1::ACTION_RESPOOL, {std::string(129, 'a')}, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(FilesIn("error"), ElementsAre("e1.eml", "e1.env"));
  EXPECT_THAT(FilesIn("respool"), ::testing::IsEmpty());
}

TEST_F(MpaServiceTest, RespoolWithoutASpoolIsRefused) {
  with_spool_ = false;
  StartAgent();
  v1::ActResponse resp;
  grpc::Status s = Act(v1::ACTION_RESPOOL, {"e1"}, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("no MPA spool"));
}

// An MPA may name its items after the Postfix queue id it received them
// under: the two are different messages, and nothing acts on either by
// guesswork.
TEST_F(MpaServiceTest, AnIdOnBothSidesIsActedOnOnlyWhereTheQueueSays) {
  StartAgent();
  const std::string twin = ids_[4];
  AddItem("error", twin, kTemplateError);
  ASSERT_TRUE(index_->Rescan().ok());
  EXPECT_EQ(index_->Current()->size(), 26u);

  v1::ActResponse resp;
  ASSERT_TRUE(Act(v1::ACTION_DELETE, {twin}, &resp).ok());
  EXPECT_EQ(resp.succeeded(), 0);
  ASSERT_EQ(resp.failures_size(), 1);
  EXPECT_THAT(resp.failures(0).reason(), HasSubstr("names both"));
  {
    absl::MutexLock lock(&runner_.mu);
    EXPECT_TRUE(runner_.calls.empty());
  }

  v1::Message envelope;
  std::string content;
  grpc::Status s = Get(twin, v1::QUEUE_KIND_UNSPECIFIED, &envelope, &content);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("give the queue"));
  content.clear();
  ASSERT_TRUE(Get(twin, v1::MPA_ERROR, &envelope, &content).ok());
  EXPECT_EQ(envelope.queue(), v1::MPA_ERROR);
  EXPECT_EQ(content, "Subject: item " + twin + "\r\n\r\nbody\r\n");
  content.clear();
  ASSERT_TRUE(Get(twin, v1::POSTFIX_DEFERRED, &envelope, &content).ok());
  EXPECT_EQ(envelope.queue(), v1::POSTFIX_DEFERRED);

  resp.Clear();
  ASSERT_TRUE(Act(v1::ACTION_DELETE, {twin}, &resp, {v1::MPA_ERROR}).ok());
  EXPECT_THAT(resp.queue_ids(), ElementsAre(twin));
  EXPECT_THAT(FilesIn("error"), ::testing::IsEmpty());
  EXPECT_TRUE(index_->Current()->Find(QueueSource::kPostfix, twin).has_value());
  absl::MutexLock lock(&runner_.mu);
  EXPECT_TRUE(runner_.calls.empty());
}

// The queues given with ids bind even before the index knows the message:
// postsuper would act on it wherever it is.
TEST_F(MpaServiceTest, QueuesGivenWithIdsHoldForMessagesNotYetIndexed) {
  StartAgent();
  const std::string fresh = AddMessage(40, "deferred");  // no event, no rescan
  v1::ActResponse resp;
  ASSERT_TRUE(Act(v1::ACTION_DELETE, {fresh}, &resp, {v1::POSTFIX_HOLD}).ok());
  EXPECT_EQ(resp.succeeded(), 0);
  ASSERT_EQ(resp.failures_size(), 1);
  EXPECT_THAT(resp.failures(0).reason(), HasSubstr("no such message in hold"));
  {
    absl::MutexLock lock(&runner_.mu);
    EXPECT_TRUE(runner_.calls.empty());
  }
  resp.Clear();
  ASSERT_TRUE(Act(v1::ACTION_DELETE, {fresh}, &resp, {v1::POSTFIX_DEFERRED}).ok());
  EXPECT_THAT(resp.queue_ids(), ElementsAre(fresh));
  EXPECT_THAT(resp.queues(), ElementsAre(v1::POSTFIX_DEFERRED));
}

TEST_F(MpaServiceTest, GetMessageFindsAnItemItHasNotIndexedYet) {
  StartAgent();
  AddItem("error", "fresh-1", kTemplateError);  // no rescan, no event yet
  v1::Message envelope;
  std::string content;
  ASSERT_TRUE(Get("fresh-1", v1::QUEUE_KIND_UNSPECIFIED, &envelope, &content).ok());
  EXPECT_EQ(envelope.mpa_error(), kTemplateError);
  EXPECT_EQ(content, "Subject: item fresh-1\r\n\r\nbody\r\n");
  content.clear();
  grpc::Status s = Get("no-such-item", v1::QUEUE_KIND_UNSPECIFIED, &envelope, &content);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(MpaServiceTest, WatchShowsItemsMoveAndTheThrottleChange) {
  WatchHubOptions options;
  options.tick = absl::Milliseconds(100);
  StartAgent(options);
  ::mailfleet::testing::Stream stream(*stub_, v1::WatchRequest());
  v1::WatchEvent first = stream.Next();
  ASSERT_TRUE(first.has_snapshot());
  EXPECT_EQ(first.snapshot().summary().mpa_throttle().state(), v1::MpaThrottle::NORMAL);

  for (int i = 0; i < 3; ++i) AddItem("spool", absl::StrCat("s", i));
  index_->Refresh({{"s0", std::nullopt, QueueSource::kMpa},
                   {"s1", std::nullopt, QueueSource::kMpa},
                   {"s2", std::nullopt, QueueSource::kMpa}});
  v1::WatchEvent delta = stream.NextChange();
  ASSERT_TRUE(delta.has_delta()) << delta.DebugString();
  ASSERT_EQ(delta.delta().changes_size(), 3);
  EXPECT_EQ(delta.delta().changes(0).kind(), v1::MessageChange::ADDED);
  EXPECT_EQ(delta.delta().changes(0).to_queue(), v1::MPA_SPOOL);
  const v1::SummaryUpdate su = stream.SummaryOf(delta);
  ASSERT_TRUE(su.has_mpa_throttle());
  EXPECT_EQ(su.mpa_throttle().state(), v1::MpaThrottle::THROTTLING);
  EXPECT_EQ(su.mpa_throttle().spool_items(), 3);
}

}  // namespace
}  // namespace mailfleet
