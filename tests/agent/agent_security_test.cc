// The agent's service behind its access control: who may do what, and the
// audit trail, over real gRPC in-process on a fake queue directory.
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "agent/service/agent_service.h"
#include "common/security/access_control.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/agent/in_process_agent.h"
#include "tests/testing/temp_dir.h"

namespace mailfleet {
namespace {

using ::mailfleet::testing::InProcessAgentTest;
using ::testing::HasSubstr;
using ::testing::SizeIs;

class AgentSecurityTest : public InProcessAgentTest {
 protected:
  void SetUp() override {
    std::ofstream(dir_.path() + "/tokens")
        << "vera viewer " << Sha256Hex("v-token") << "\n"
        << "rita reader " << Sha256Hex("r-token") << "\n"
        << "otto operator " << Sha256Hex("o-token") << "\n";
    ASSERT_TRUE(tokens_.Load().ok());
    auto audit = AuditLog::Open(audit_path_);
    ASSERT_TRUE(audit.ok());
    audit_ = *std::move(audit);
    AuthPolicy policy;
    policy.tokens = &tokens_;
    policy.controller_name = "mailfleet-controller";
    policy.act_only_from_controller_or_local = true;
    policy.unknown_peer_is_local = true;  // in-process calls
    control_ = std::make_unique<AccessControl>(policy, audit_.get());
    access_ = control_.get();
    StartAgent();
  }

  static void SetToken(grpc::ClientContext* ctx, const std::string& token) {
    if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  }

  grpc::Status Hold(const std::string& token, bool dry_run, v1::ActResponse* resp) {
    grpc::ClientContext ctx;
    SetToken(&ctx, token);
    v1::ActRequest req;
    req.set_action(v1::ACTION_HOLD);
    req.set_dry_run(dry_run);
    req.mutable_selector()->add_queue_ids(ids_[1]);
    req.mutable_selector()->add_queue_ids(ids_[2]);
    return stub_->Act(&ctx, req, resp);
  }

  // The status of reading ids_[4] and the bytes of content received.
  grpc::Status Read(const std::string& token, bool envelope_only, size_t* content) {
    grpc::ClientContext ctx;
    SetToken(&ctx, token);
    v1::GetMessageRequest req;
    req.set_queue_id(ids_[4]);
    req.set_envelope_only(envelope_only);
    auto reader = stub_->GetMessage(&ctx, req);
    v1::GetMessageResponse part;
    *content = 0;
    while (reader->Read(&part)) *content += part.content().size();
    return reader->Finish();
  }

  std::vector<v1::AuditRecord> Audit() {
    std::ifstream in(audit_path_);
    std::stringstream text;
    text << in.rdbuf();
    std::vector<v1::AuditRecord> records;
    for (absl::string_view line : absl::StrSplit(text.str(), '\n', absl::SkipEmpty())) {
      v1::AuditRecord r;
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(std::string(line), &r).ok())
          << line;
      records.push_back(r);
    }
    return records;
  }

  size_t PostsuperRuns() {
    absl::MutexLock lock(&runner_.mu);
    return runner_.calls.size();
  }

  testing::TempDir dir_{"agent_security_test"};
  std::string audit_path_ = dir_.path() + "/audit.log";
  TokenStore tokens_{dir_.path() + "/tokens"};
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<AccessControl> control_;
};

TEST_F(AgentSecurityTest, NoTokenOrAnUnknownOneIsUnauthenticated) {
  grpc::ClientContext ctx;
  v1::SummaryResponse resp;
  grpc::Status s = stub_->Summary(&ctx, v1::SummaryRequest(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("no token"));

  v1::ActResponse act;
  s = Hold("guess", false, &act);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(PostsuperRuns(), 0u);
  std::vector<v1::AuditRecord> audit = Audit();
  ASSERT_THAT(audit, SizeIs(1));
  EXPECT_EQ(audit[0].principal(), "");
  EXPECT_EQ(audit[0].verb(), "hold");
  EXPECT_EQ(audit[0].result(), "denied");
  EXPECT_EQ(audit[0].gateway(), "gw-test");

  grpc::ClientContext watch_ctx;
  auto watch = stub_->Watch(&watch_ctx, v1::WatchRequest());
  v1::WatchEvent event;
  EXPECT_FALSE(watch->Read(&event));
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AgentSecurityTest, AViewerMayListButNotActAndTheRefusalIsAudited) {
  grpc::ClientContext ctx;
  SetToken(&ctx, "v-token");
  v1::ListResponse list;
  ASSERT_TRUE(stub_->List(&ctx, v1::ListRequest(), &list).ok());
  EXPECT_EQ(list.messages_size(), 25);

  v1::ActResponse act;
  grpc::Status s = Hold("v-token", /*dry_run=*/true, &act);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), "vera has the viewer role; acting on messages needs operator");
  grpc::ClientContext flush_ctx;
  SetToken(&flush_ctx, "r-token");
  v1::FlushRequest flush;
  flush.set_all(true);
  v1::FlushResponse flushed;
  EXPECT_EQ(stub_->Flush(&flush_ctx, flush, &flushed).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(PostsuperRuns(), 0u);

  std::vector<v1::AuditRecord> audit = Audit();
  ASSERT_THAT(audit, SizeIs(2));
  EXPECT_EQ(audit[0].principal(), "vera");
  EXPECT_EQ(audit[0].role(), "viewer");
  EXPECT_EQ(audit[0].verb(), "hold");
  EXPECT_TRUE(audit[0].dry_run());
  EXPECT_EQ(audit[0].result(), "denied");
  EXPECT_THAT(audit[0].selector(), HasSubstr(ids_[1]));
  EXPECT_EQ(audit[1].principal(), "rita");
  EXPECT_EQ(audit[1].verb(), "flush");
  EXPECT_EQ(audit[1].selector(), "all");
  EXPECT_EQ(audit[1].result(), "denied");
}

TEST_F(AgentSecurityTest, ContentNeedsTheReaderRoleAndEveryReadIsAudited) {
  size_t content = 0;
  grpc::Status s = Read("v-token", /*envelope_only=*/false, &content);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(content, 0u);
  ASSERT_TRUE(Read("v-token", /*envelope_only=*/true, &content).ok());
  EXPECT_EQ(Audit().size(), 1u);  // envelopes are not audited

  ASSERT_TRUE(Read("r-token", /*envelope_only=*/false, &content).ok());
  EXPECT_GT(content, 0u);
  std::vector<v1::AuditRecord> audit = Audit();
  ASSERT_THAT(audit, SizeIs(2));
  EXPECT_EQ(audit[0].principal(), "vera");
  EXPECT_EQ(audit[0].result(), "denied");
  EXPECT_EQ(audit[1].principal(), "rita");
  EXPECT_EQ(audit[1].verb(), "read");
  EXPECT_EQ(audit[1].selector(), "id " + ids_[4]);
  EXPECT_EQ(audit[1].matched(), 1);
  EXPECT_EQ(audit[1].result(), "ok");
}

TEST_F(AgentSecurityTest, AnOperatorActsAndTheOutcomeIsAuditedBeforeTheReply) {
  v1::ActResponse act;
  ASSERT_TRUE(Hold("o-token", /*dry_run=*/true, &act).ok());
  EXPECT_EQ(act.matched(), 2);
  // The reply is back: its record is already in the file.
  std::vector<v1::AuditRecord> audit = Audit();
  ASSERT_THAT(audit, SizeIs(1));
  EXPECT_EQ(audit[0].principal(), "otto");
  EXPECT_EQ(audit[0].role(), "operator");
  EXPECT_FALSE(audit[0].via_controller());
  EXPECT_TRUE(audit[0].dry_run());
  EXPECT_EQ(audit[0].matched(), 2);
  EXPECT_EQ(audit[0].result(), "ok");
  EXPECT_THAT(audit[0].queue_ids(), ::testing::UnorderedElementsAre(ids_[1], ids_[2]));

  // An invalid request from an operator is on the trail too.
  grpc::ClientContext ctx;
  SetToken(&ctx, "o-token");
  v1::ActRequest bad;
  bad.set_action(v1::ACTION_DELETE);
  bad.mutable_selector()->add_queue_ids("../../etc/passwd");
  EXPECT_EQ(stub_->Act(&ctx, bad, &act).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  audit = Audit();
  ASSERT_THAT(audit, SizeIs(2));
  EXPECT_EQ(audit[1].verb(), "delete");
  EXPECT_EQ(audit[1].result(), "invalid");
  EXPECT_THAT(audit[1].error(), HasSubstr("invalid character"));
  EXPECT_EQ(PostsuperRuns(), 0u);
}

TEST_F(AgentSecurityTest, ForwardedHeadersWithoutTheControllersCertificateAreIgnored) {
  grpc::ClientContext ctx;
  SetToken(&ctx, "v-token");
  ctx.AddMetadata("x-mailfleet-principal", "otto");
  ctx.AddMetadata("x-mailfleet-role", "operator");
  v1::ActRequest req;
  req.set_action(v1::ACTION_DELETE);
  req.mutable_selector()->add_queue_ids(ids_[0]);
  v1::ActResponse resp;
  grpc::Status s = stub_->Act(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("vera"));
  EXPECT_EQ(PostsuperRuns(), 0u);
  ASSERT_THAT(Audit(), SizeIs(1));
  EXPECT_EQ(Audit()[0].principal(), "vera");
  EXPECT_FALSE(Audit()[0].via_controller());
}

}  // namespace
}  // namespace mailfleet
