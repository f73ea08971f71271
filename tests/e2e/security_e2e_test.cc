// Security end to end: one private Postfix, its `mailfleet-agent` and a
// `mailfleet-controller` in front of it, both serving mutual TLS with
// certificates from deploy/make-fleet-certs.sh, bearer tokens from
// deploy/new-token.sh (a viewer, a reader and an operator) and audit logs.
// Each refusal is checked for its exact gRPC code, for leaving Postfix's
// queue as it was (`postqueue -j`), and for its line in the audit logs;
// each permitted action for doing exactly what it says, and being written
// down under the right name on both sides.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/os/process_runner.h"
#include "common/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mailfleet/v1/agent.grpc.pb.h"
#include "mailfleet/v1/audit.pb.h"
#include "mailfleet/v1/controller.grpc.pb.h"
#include "tests/e2e/agent_process.h"
#include "tests/e2e/controller_process.h"
#include "tests/e2e/poll.h"
#include "tests/e2e/postqueue_json.h"
#include "tests/e2e/support/loopback_ports.h"
#include "tests/e2e/support/message_generator.h"
#include "tests/e2e/support/postfix_instance.h"
#include "tests/e2e/support/smtp_sender.h"
#include "tests/testing/temp_dir.h"

namespace mailfleet::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kGateway[] = "gw1";
// The one certificate every token holder calls with: tokens, not
// certificates, say who an operator is.
constexpr char kOperatorCert[] = "alice";
// The recipient that every fourth message also goes to: what the actions
// select.
constexpr char kQuarantine[] = "quarantine@security.example.com";
constexpr int kMessages = 24;

constexpr absl::Duration kCallDeadline = absl::Seconds(20);
// SIGHUP is handled asynchronously; a reload takes milliseconds.
constexpr absl::Duration kReloadTime = absl::Seconds(10);

void SetDeadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
}

std::string Describe(const grpc::Status& s) {
  return absl::StrCat("code ", s.error_code(), ": ", s.error_message());
}

// A token as deploy/new-token.sh made it.
struct Token {
  std::string name;
  std::string role;
  std::string secret;
  // The tokens file's line for it.
  std::string line;
};

absl::StatusOr<Token> NewToken(const std::string& name,
                               const std::string& role) {
  RealProcessRunner runner;
  MF_ASSIGN_OR_RETURN(ProcessResult run,
                      runner.Run({MAILFLEET_NEW_TOKEN, name, role}, {}));
  std::vector<std::string> lines =
      absl::StrSplit(run.stdout_text, '\n', absl::SkipEmpty());
  if (run.exit_code != 0 || lines.size() != 2) {
    return absl::InternalError(absl::StrCat("new-token.sh ", name, " ", role,
                                            " exited ", run.exit_code, ": ",
                                            run.stdout_text, run.stderr_text));
  }
  return Token{name, role, lines[0], lines[1]};
}

// Postfix's own account of its queue: each message's queue by id.
using QueueState = std::map<std::string, std::string>;

// An audit log read as it grows: each Next() parses the lines appended
// since the previous one.
class AuditTail {
 public:
  explicit AuditTail(std::string path) : path_(std::move(path)) {}

  // Fails on a line that is not exactly one mailfleet.v1.AuditRecord (an
  // unknown field too), or on a last line without its newline: a record
  // is appended whole before the reply that follows it.
  absl::StatusOr<std::vector<v1::AuditRecord>> Next() {
    const std::string text = ReadWholeFile(path_);
    if (text.size() < offset_) {
      return absl::InternalError(absl::StrCat(path_, " shrank"));
    }
    absl::string_view added = absl::string_view(text).substr(offset_);
    offset_ = text.size();
    if (!added.empty() && added.back() != '\n') {
      return absl::InternalError(
          absl::StrCat(path_, " ends in a partial line: ", added));
    }
    std::vector<v1::AuditRecord> records;
    for (absl::string_view line :
         absl::StrSplit(added, '\n', absl::SkipEmpty())) {
      v1::AuditRecord r;
      const auto parsed = google::protobuf::util::JsonStringToMessage(
          std::string(line.data(), line.size()), &r);
      if (!parsed.ok()) {
        return absl::InternalError(absl::StrCat(
            path_, ": not an AuditRecord (", parsed.ToString(), "): ", line));
      }
      records.push_back(std::move(r));
    }
    return records;
  }

 private:
  std::string path_;
  size_t offset_ = 0;
};

// What one audit record must say: who, as what, on which gateway, which
// verb, with what result; and, when set, how it came and what it counted.
struct WantAudit {
  WantAudit(std::string principal, std::string role, std::string gateway,
            std::string verb, std::string result)
      : principal(std::move(principal)),
        role(std::move(role)),
        gateway(std::move(gateway)),
        verb(std::move(verb)),
        result(std::move(result)) {}

  std::string principal;
  std::string role;
  std::string gateway;
  std::string verb;
  std::string result;
  bool via_controller = false;
  bool dry_run = false;
  std::optional<int64_t> matched, succeeded, failed;

  WantAudit& ViaController() {
    via_controller = true;
    return *this;
  }
  WantAudit& DryRun(bool d = true) {
    dry_run = d;
    return *this;
  }
  // A dry run acts on nothing: only what it matched is checked.
  WantAudit& Matched(int64_t n) {
    matched = n;
    return *this;
  }
  WantAudit& Counts(int64_t m, int64_t s, int64_t f) {
    matched = m;
    succeeded = s;
    failed = f;
    return *this;
  }
};

void ExpectAudit(const v1::AuditRecord& r, const WantAudit& want) {
  SCOPED_TRACE(r.DebugString());
  EXPECT_EQ(r.principal(), want.principal);
  EXPECT_EQ(r.role(), want.role);
  EXPECT_EQ(r.gateway(), want.gateway);
  EXPECT_EQ(r.verb(), want.verb);
  EXPECT_EQ(r.result(), want.result);
  EXPECT_EQ(r.via_controller(), want.via_controller);
  EXPECT_EQ(r.dry_run(), want.dry_run);
  if (want.matched) {
    EXPECT_EQ(r.matched(), *want.matched);
  }
  if (want.succeeded) {
    EXPECT_EQ(r.succeeded(), *want.succeeded);
  }
  if (want.failed) {
    EXPECT_EQ(r.failed(), *want.failed);
  }
  // Every test call comes from loopback, and was made just now.
  EXPECT_THAT(r.peer(), HasSubstr("127.0.0.1"));
  const absl::Time t = absl::FromUnixSeconds(r.time().seconds()) +
                       absl::Nanoseconds(r.time().nanos());
  EXPECT_LT(absl::AbsDuration(absl::Now() - t), absl::Minutes(5))
      << absl::FormatTime(t);
  if (want.result == "denied") {
    EXPECT_FALSE(r.error().empty());
  } else if (want.result == "ok") {
    EXPECT_THAT(r.error(), IsEmpty());
  }
}

// The agent's name in its audit records.
std::string Hostname() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

// What a GetMessage stream brought.
struct ReadResult {
  grpc::Status status;
  v1::Message envelope;
  std::string content;
};

ReadResult Drain(grpc::ClientReader<v1::GetMessageResponse>* reader) {
  ReadResult out;
  v1::GetMessageResponse part;
  while (reader->Read(&part)) {
    if (part.has_envelope()) {
      out.envelope = part.envelope();
    } else {
      out.content += part.content();
    }
  }
  out.status = reader->Finish();
  return out;
}

struct FleetActResult {
  grpc::Status status;
  std::vector<v1::GatewayActResult> results;
};

// The agent and the controller as one client identity sees them: each
// call on a fresh context with the identity's token and metadata.
class Calls {
 public:
  Calls(const ClientIdentity& who, const std::string& agent,
        const std::string& controller)
      : who_(who),
        agent_(v1::AgentService::NewStub(who.Channel(agent))),
        controller_(v1::ControllerService::NewStub(who.Channel(controller))) {}

  grpc::Status AgentSummary() {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::SummaryResponse resp;
    return agent_->Summary(&ctx, {}, &resp);
  }
  grpc::Status AgentAct(const v1::ActRequest& req, v1::ActResponse* resp) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    return agent_->Act(&ctx, req, resp);
  }
  ReadResult AgentGet(const std::string& id, bool envelope_only) {
    v1::GetMessageRequest req;
    req.set_queue_id(id);
    req.set_envelope_only(envelope_only);
    grpc::ClientContext ctx;
    Prepare(&ctx);
    auto reader = agent_->GetMessage(&ctx, req);
    return Drain(reader.get());
  }

  grpc::Status ListGateways(v1::ListGatewaysResponse* resp) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    return controller_->ListGateways(&ctx, {}, resp);
  }
  grpc::Status ListGateways() {
    v1::ListGatewaysResponse resp;
    return ListGateways(&resp);
  }
  FleetActResult Act(const v1::ActRequest& request) {
    v1::FleetActRequest req;
    req.mutable_selector()->add_names(kGateway);
    *req.mutable_request() = request;
    grpc::ClientContext ctx;
    Prepare(&ctx);
    auto reader = controller_->Act(&ctx, req);
    FleetActResult out;
    v1::GatewayActResult result;
    while (reader->Read(&result)) out.results.push_back(result);
    out.status = reader->Finish();
    return out;
  }
  ReadResult Get(const std::string& id, bool envelope_only) {
    v1::FleetGetMessageRequest req;
    req.set_gateway(kGateway);
    req.mutable_request()->set_queue_id(id);
    req.mutable_request()->set_envelope_only(envelope_only);
    grpc::ClientContext ctx;
    Prepare(&ctx);
    auto reader = controller_->GetMessage(&ctx, req);
    return Drain(reader.get());
  }

 private:
  void Prepare(grpc::ClientContext* ctx) {
    who_.Prepare(ctx);
    SetDeadline(ctx);
  }

  ClientIdentity who_;
  std::unique_ptr<v1::AgentService::Stub> agent_;
  std::unique_ptr<v1::ControllerService::Stub> controller_;
};

v1::ActRequest QuarantineRequest(v1::Action action, bool dry_run) {
  v1::ActRequest req;
  req.set_action(action);
  v1::Filter* f = req.mutable_selector()->mutable_filter();
  f->set_pattern(kQuarantine);
  f->add_fields(v1::MATCH_FIELD_RECIPIENT);
  req.set_dry_run(dry_run);
  return req;
}

// Everything the suite's tests share. Members in the order they must be
// built; they go in reverse, the controller first.
struct SecurityUnderTest {
  TempDir dir{"mailfleet-security-e2e"};
  std::unique_ptr<PostfixInstance> postfix;
  // The fleet's certificates, and another fleet's (with a controller of
  // the same name).
  FleetCertFiles certs;
  FleetCertFiles foreign;
  Token viewer, reader, op;
  std::string agent_tokens, controller_tokens;
  std::string agent_audit, controller_audit;
  std::unique_ptr<AgentProcess> agent;
  std::unique_ptr<ControllerProcess> controller;
};

class SecurityEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const absl::Time start = absl::Now();
    s_ = new SecurityUnderTest;
    ASSERT_FALSE(s_->dir.path().empty());
    const std::string& dir = s_->dir.path();

    std::vector<TestMessage> messages = GenerateVariedMessages(kMessages, 7);
    for (int i = 0; i < kMessages; i += 4) {
      messages[i].recipients.push_back(kQuarantine);
    }
    auto postfix = PostfixInstance::Create({});
    ASSERT_TRUE(postfix.ok()) << postfix.status();
    s_->postfix = *std::move(postfix);
    const absl::Status sent =
        SendMessages(s_->postfix->smtp_port(), messages, 2);
    ASSERT_TRUE(sent.ok()) << sent;
    const absl::Status settled =
        s_->postfix->WaitForQueueToSettle(absl::Minutes(1));
    ASSERT_TRUE(settled.ok()) << settled;

    s_->certs.dir = dir + "/pki";
    s_->foreign.dir = dir + "/foreign-pki";
    RealProcessRunner runner;
    for (const FleetCertFiles* certs : {&s_->certs, &s_->foreign}) {
      auto made = runner.Run({MAILFLEET_MAKE_FLEET_CERTS, certs->dir, "--agent",
                              kGateway, "--operator", kOperatorCert},
                             {});
      ASSERT_TRUE(made.ok()) << made.status();
      ASSERT_EQ(made->exit_code, 0) << made->stdout_text << made->stderr_text;
    }

    auto viewer = NewToken("vera", "viewer");
    auto reader = NewToken("rita", "reader");
    auto op = NewToken("otto", "operator");
    ASSERT_TRUE(viewer.ok()) << viewer.status();
    ASSERT_TRUE(reader.ok()) << reader.status();
    ASSERT_TRUE(op.ok()) << op.status();
    s_->viewer = *viewer;
    s_->reader = *reader;
    s_->op = *op;
    const std::string tokens =
        absl::StrCat("# made by deploy/new-token.sh\n", s_->viewer.line, "\n\n",
                     s_->reader.line, "\n", s_->op.line, "\n");
    s_->agent_tokens = dir + "/agent-tokens";
    s_->controller_tokens = dir + "/controller-tokens";
    for (const std::string* f : {&s_->agent_tokens, &s_->controller_tokens}) {
      const absl::Status written = WriteWholeFile(*f, tokens);
      ASSERT_TRUE(written.ok()) << written;
    }
    s_->agent_audit = dir + "/agent-audit.log";
    s_->controller_audit = dir + "/controller-audit.log";

    auto agent_port = PickFreeLoopbackPort();
    ASSERT_TRUE(agent_port.ok()) << agent_port.status();
    std::vector<std::string> agent_args = s_->certs.Agent(kGateway).Flags();
    agent_args.insert(agent_args.end(), {"--tokens", s_->agent_tokens,
                                         "--audit-log", s_->agent_audit});
    s_->agent =
        std::make_unique<AgentProcess>(s_->postfix->config_dir(), *agent_port,
                                       std::move(agent_args), As(s_->viewer));
    ASSERT_TRUE(s_->agent->WaitUntilServing());

    const std::string gateways = dir + "/gateways.txt";
    const absl::Status written = WriteWholeFile(
        gateways, absl::StrCat("gateway { name: \"", kGateway, "\" address: \"",
                               s_->agent->address(), "\" }\n"));
    ASSERT_TRUE(written.ok()) << written;
    auto controller_port = PickFreeLoopbackPort();
    ASSERT_TRUE(controller_port.ok()) << controller_port.status();
    std::vector<std::string> controller_args = s_->certs.Controller().Flags();
    controller_args.insert(
        controller_args.end(),
        {"--tokens", s_->controller_tokens, "--audit-log", s_->controller_audit,
         "--heartbeat", "1s", "--stale-after", "3s"});
    s_->controller = std::make_unique<ControllerProcess>(
        gateways, *controller_port, std::move(controller_args), As(s_->viewer));
    ASSERT_TRUE(s_->controller->WaitUntilServing());

    // The controller's own stream to the agent, over TLS with its
    // certificate, must be up before anything is asked through it.
    Calls viewer_calls = CallsAs(As(s_->viewer));
    v1::Gateway seen;
    ASSERT_TRUE(PollUntil(absl::Seconds(30),
                          [&] {
                            v1::ListGatewaysResponse list;
                            if (!viewer_calls.ListGateways(&list).ok() ||
                                list.gateways_size() != 1) {
                              return false;
                            }
                            seen = list.gateways(0);
                            return seen.state() == v1::GATEWAY_CONNECTED &&
                                   seen.synced();
                          }))
        << "the controller never connected to the agent: "
        << v1::GatewayState_Name(seen.state()) << ", " << seen.last_error();
    std::cout << "set up in " << absl::FormatDuration(absl::Now() - start)
              << "\n";
  }
  static void TearDownTestSuite() {
    delete s_;
    s_ = nullptr;
  }

  // Each test starts reading the audit logs from their current end, and
  // must leave the queue as it found it.
  void SetUp() override {
    ASSERT_NE(s_, nullptr);
    ASSERT_NE(s_->controller, nullptr) << "the suite's setup failed";
    agent_audit_ = std::make_unique<AuditTail>(s_->agent_audit);
    controller_audit_ = std::make_unique<AuditTail>(s_->controller_audit);
    ASSERT_TRUE(agent_audit_->Next().ok());
    ASSERT_TRUE(controller_audit_->Next().ok());
    auto q = Queue();
    ASSERT_TRUE(q.ok()) << q.status();
    ASSERT_EQ(q->size(), static_cast<size_t>(kMessages));
    at_start_ = *q;
  }
  void TearDown() override {
    if (s_ == nullptr || s_->postfix == nullptr) return;
    ExpectQueueIs(at_start_, "at the end of the test");
  }

  static ClientIdentity As(const Token& token) {
    return ClientIdentity(ClientTls(s_->certs.Operator(kOperatorCert)),
                          token.secret);
  }
  static Calls CallsAs(const ClientIdentity& who) {
    return Calls(who, s_->agent->address(), s_->controller->address());
  }

  static absl::StatusOr<QueueState> Queue() {
    MF_ASSIGN_OR_RETURN(std::string json, s_->postfix->PostqueueJson());
    MF_ASSIGN_OR_RETURN(auto entries, ParsePostqueueJson(json));
    QueueState state;
    for (const auto& [id, e] : entries) state[id] = e.queue_name;
    return state;
  }
  static void ExpectQueueIs(const QueueState& want, const std::string& when) {
    auto now = Queue();
    ASSERT_TRUE(now.ok()) << now.status();
    EXPECT_EQ(*now, want) << "postqueue -j changed " << when;
  }
  // The messages a hold of kQuarantine takes: postqueue's own account.
  static absl::StatusOr<std::set<std::string>> Quarantined() {
    MF_ASSIGN_OR_RETURN(std::string json, s_->postfix->PostqueueJson());
    MF_ASSIGN_OR_RETURN(auto entries, ParsePostqueueJson(json));
    std::set<std::string> ids;
    for (const auto& [id, e] : entries) {
      for (const PostqueueRecipient& r : e.recipients) {
        if (r.address == kQuarantine) ids.insert(id);
      }
    }
    return ids;
  }

  std::vector<v1::AuditRecord> AgentAudit() { return Lines(*agent_audit_); }
  std::vector<v1::AuditRecord> ControllerAudit() {
    return Lines(*controller_audit_);
  }
  static std::vector<v1::AuditRecord> Lines(AuditTail& tail) {
    auto lines = tail.Next();
    EXPECT_TRUE(lines.ok()) << lines.status();
    return lines.ok() ? *lines : std::vector<v1::AuditRecord>{};
  }

  static SecurityUnderTest* s_;
  QueueState at_start_;
  std::unique_ptr<AuditTail> agent_audit_, controller_audit_;
};
SecurityUnderTest* SecurityEndToEndTest::s_ = nullptr;

TEST_F(SecurityEndToEndTest,
       AgentRefusesAClientWithoutACertificateTheControllerWantsAToken) {
  // The fleet's CA and an operator's token, but no certificate: the token
  // is never looked at.
  const TlsFiles ca_only{s_->certs.Ca(), "", ""};
  Calls anonymous = CallsAs(ClientIdentity(ClientTls(ca_only), s_->op.secret));
  grpc::Status s = anonymous.AgentSummary();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(s);
  v1::ActResponse resp;
  s = anonymous.AgentAct(QuarantineRequest(v1::ACTION_HOLD, false), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(s);
  ExpectQueueIs(at_start_, "by a client without a certificate");
  EXPECT_THAT(AgentAudit(), IsEmpty());

  // The controller asks for a certificate without requiring one (its
  // default): the token alone says who calls, and without one nobody does.
  s = CallsAs(ClientIdentity(ClientTls(ca_only), s_->viewer.secret))
          .ListGateways();
  EXPECT_TRUE(s.ok()) << Describe(s);
  s = CallsAs(ClientIdentity(ClientTls(ca_only))).ListGateways();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << Describe(s);
}

TEST_F(SecurityEndToEndTest, AgentAndControllerRefuseCertificatesOfAnotherCa) {
  // Each trusts the fleet's CA (so the server's certificate passes) and
  // presents one of the other fleet's, the controller's name included.
  for (const TlsFiles& theirs :
       {s_->foreign.Operator(kOperatorCert), s_->foreign.Controller()}) {
    SCOPED_TRACE(theirs.cert);
    const TlsFiles mixed{s_->certs.Ca(), theirs.cert, theirs.key};
    Calls foreign = CallsAs(ClientIdentity(ClientTls(mixed), s_->op.secret));
    grpc::Status s = foreign.AgentSummary();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(s);
    v1::ActResponse resp;
    s = foreign.AgentAct(QuarantineRequest(v1::ACTION_HOLD, false), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(s);
    s = foreign.ListGateways();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(s);
    FleetActResult act = foreign.Act(QuarantineRequest(v1::ACTION_HOLD, false));
    EXPECT_EQ(act.status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << Describe(act.status);
    EXPECT_THAT(act.results, IsEmpty());
  }
  ExpectQueueIs(at_start_, "by certificates of another CA");
  EXPECT_THAT(AgentAudit(), IsEmpty());
  EXPECT_THAT(ControllerAudit(), IsEmpty());
}

TEST_F(SecurityEndToEndTest, ControllerWantsAValidToken) {
  const ClientIdentity no_token{ClientTls(s_->certs.Operator(kOperatorCert))};
  const ClientIdentity wrong_token{ClientTls(s_->certs.Operator(kOperatorCert)),
                                   s_->op.secret + "x"};
  for (const ClientIdentity& who : {no_token, wrong_token}) {
    SCOPED_TRACE(who.token.empty() ? "no token" : "a wrong token");
    Calls calls = CallsAs(who);
    grpc::Status s = calls.ListGateways();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << Describe(s);
    EXPECT_FALSE(s.error_message().empty());
    FleetActResult act = calls.Act(QuarantineRequest(v1::ACTION_HOLD, false));
    EXPECT_EQ(act.status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << Describe(act.status);
    EXPECT_THAT(act.results, IsEmpty());
    ExpectQueueIs(at_start_, "by a call without a valid token");

    // The attempted hold is written down, by nobody.
    std::vector<v1::AuditRecord> lines = ControllerAudit();
    ASSERT_EQ(lines.size(), 1u);
    ExpectAudit(lines[0], WantAudit{"", "", "", "hold", "denied"});
  }
  EXPECT_THAT(AgentAudit(), IsEmpty());
}

TEST_F(SecurityEndToEndTest, ViewerMayNotHoldThroughTheController) {
  Calls viewer = CallsAs(As(s_->viewer));
  ASSERT_TRUE(viewer.ListGateways().ok());
  for (bool dry_run : {false, true}) {
    FleetActResult act =
        viewer.Act(QuarantineRequest(v1::ACTION_HOLD, dry_run));
    EXPECT_EQ(act.status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << Describe(act.status);
    EXPECT_THAT(act.results, IsEmpty());
    // Who, as what, and what it would take.
    EXPECT_THAT(act.status.error_message(), HasSubstr("vera"));
    EXPECT_THAT(act.status.error_message(), HasSubstr("viewer"));
    EXPECT_THAT(act.status.error_message(), HasSubstr("operator"));
    ExpectQueueIs(at_start_, "by a viewer's hold");
    std::vector<v1::AuditRecord> lines = ControllerAudit();
    ASSERT_EQ(lines.size(), 1u);
    ExpectAudit(
        lines[0],
        WantAudit{"vera", "viewer", "", "hold", "denied"}.DryRun(dry_run));
  }
  // Refused before any gateway was asked.
  EXPECT_THAT(AgentAudit(), IsEmpty());
}

TEST_F(SecurityEndToEndTest, ViewerSeesEnvelopesButNotContent) {
  const std::string id = at_start_.begin()->first;
  Calls viewer = CallsAs(As(s_->viewer));

  ReadResult envelope = viewer.Get(id, /*envelope_only=*/true);
  ASSERT_TRUE(envelope.status.ok()) << Describe(envelope.status);
  EXPECT_EQ(envelope.envelope.queue_id(), id);
  EXPECT_EQ(envelope.envelope.gateway(), kGateway);
  EXPECT_THAT(envelope.content, IsEmpty());
  ReadResult direct = viewer.AgentGet(id, /*envelope_only=*/true);
  ASSERT_TRUE(direct.status.ok()) << Describe(direct.status);
  EXPECT_EQ(direct.envelope.queue_id(), id);
  // Envelopes are viewing, not reading: not audited.
  EXPECT_THAT(ControllerAudit(), IsEmpty());
  EXPECT_THAT(AgentAudit(), IsEmpty());

  ReadResult content = viewer.Get(id, /*envelope_only=*/false);
  EXPECT_EQ(content.status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << Describe(content.status);
  EXPECT_THAT(content.content, IsEmpty());
  std::vector<v1::AuditRecord> lines = ControllerAudit();
  ASSERT_EQ(lines.size(), 1u);
  ExpectAudit(lines[0],
              WantAudit{"vera", "viewer", kGateway, "read", "denied"});
  EXPECT_THAT(lines[0].selector(), HasSubstr(id));
  EXPECT_THAT(AgentAudit(), IsEmpty());

  content = viewer.AgentGet(id, /*envelope_only=*/false);
  EXPECT_EQ(content.status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << Describe(content.status);
  EXPECT_THAT(content.content, IsEmpty());
  lines = AgentAudit();
  ASSERT_EQ(lines.size(), 1u);
  ExpectAudit(lines[0],
              WantAudit{"vera", "viewer", Hostname(), "read", "denied"});
  EXPECT_THAT(lines[0].selector(), HasSubstr(id));
  ExpectQueueIs(at_start_, "by a viewer's reads");
}

TEST_F(SecurityEndToEndTest, ReaderReadsContentButMayNotDelete) {
  const std::string id = at_start_.begin()->first;
  auto postcat = s_->postfix->RunTool({"postcat", "-bh", "-q", id});
  ASSERT_TRUE(postcat.ok()) << postcat.status();
  ASSERT_EQ(postcat->exit_code, 0) << postcat->stderr_text;

  Calls reader = CallsAs(As(s_->reader));
  ReadResult read = reader.Get(id, /*envelope_only=*/false);
  ASSERT_TRUE(read.status.ok()) << Describe(read.status);
  EXPECT_EQ(read.envelope.queue_id(), id);
  EXPECT_EQ(read.content, postcat->stdout_text);
  // Both sides write it down: the agent under the name the controller
  // vouched for.
  std::vector<v1::AuditRecord> lines = ControllerAudit();
  ASSERT_EQ(lines.size(), 1u);
  ExpectAudit(lines[0], WantAudit{"rita", "reader", kGateway, "read", "ok"});
  EXPECT_THAT(lines[0].selector(), HasSubstr(id));
  lines = AgentAudit();
  ASSERT_EQ(lines.size(), 1u);
  ExpectAudit(
      lines[0],
      WantAudit{"rita", "reader", Hostname(), "read", "ok"}.ViaController());
  EXPECT_THAT(lines[0].selector(), HasSubstr(id));

  v1::ActRequest del;
  del.set_action(v1::ACTION_DELETE);
  del.mutable_selector()->add_queue_ids(id);
  FleetActResult act = reader.Act(del);
  EXPECT_EQ(act.status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << Describe(act.status);
  EXPECT_THAT(act.results, IsEmpty());
  EXPECT_THAT(act.status.error_message(), HasSubstr("rita"));
  ExpectQueueIs(at_start_, "by a reader's delete");
  lines = ControllerAudit();
  ASSERT_EQ(lines.size(), 1u);
  ExpectAudit(lines[0], WantAudit{"rita", "reader", "", "delete", "denied"});
  EXPECT_THAT(AgentAudit(), IsEmpty());
}

TEST_F(SecurityEndToEndTest,
       OperatorHoldsThroughTheControllerAndBothSidesAuditIt) {
  auto quarantined = Quarantined();
  ASSERT_TRUE(quarantined.ok()) << quarantined.status();
  ASSERT_EQ(quarantined->size(), static_cast<size_t>((kMessages + 3) / 4));
  const int64_t n = quarantined->size();
  Calls op = CallsAs(As(s_->op));

  // A dry run first: counted and written down, nothing moved.
  FleetActResult act = op.Act(QuarantineRequest(v1::ACTION_HOLD, true));
  ASSERT_TRUE(act.status.ok()) << Describe(act.status);
  ASSERT_EQ(act.results.size(), 1u);
  ASSERT_FALSE(act.results[0].has_failure())
      << act.results[0].failure().error();
  EXPECT_EQ(act.results[0].response().matched(), n);
  ExpectQueueIs(at_start_, "by a dry run");
  std::vector<v1::AuditRecord> lines = ControllerAudit();
  ASSERT_EQ(lines.size(), 1u);
  ExpectAudit(
      lines[0],
      WantAudit{"otto", "operator", kGateway, "hold", "ok"}.DryRun().Matched(
          n));
  lines = AgentAudit();
  ASSERT_EQ(lines.size(), 1u);
  ExpectAudit(lines[0], WantAudit{"otto", "operator", Hostname(), "hold", "ok"}
                            .ViaController()
                            .DryRun()
                            .Matched(n));

  act = op.Act(QuarantineRequest(v1::ACTION_HOLD, false));
  ASSERT_TRUE(act.status.ok()) << Describe(act.status);
  ASSERT_EQ(act.results.size(), 1u);
  const v1::GatewayActResult& held = act.results[0];
  ASSERT_FALSE(held.has_failure()) << held.failure().error();
  EXPECT_EQ(held.gateway(), kGateway);
  EXPECT_EQ(held.response().matched(), n);
  EXPECT_EQ(held.response().succeeded(), n);
  EXPECT_EQ(held.response().failed(), 0);
  EXPECT_EQ(std::set<std::string>(held.response().queue_ids().begin(),
                                  held.response().queue_ids().end()),
            *quarantined);
  QueueState want = at_start_;
  for (const std::string& id : *quarantined) want[id] = "hold";
  ExpectQueueIs(want, "by the operator's hold");

  lines = ControllerAudit();
  ASSERT_EQ(lines.size(), 1u);
  ExpectAudit(
      lines[0],
      WantAudit{"otto", "operator", kGateway, "hold", "ok"}.Counts(n, n, 0));
  EXPECT_THAT(lines[0].selector(), HasSubstr(kQuarantine));
  lines = AgentAudit();
  ASSERT_EQ(lines.size(), 1u);
  ExpectAudit(lines[0], WantAudit{"otto", "operator", Hostname(), "hold", "ok"}
                            .ViaController()
                            .Counts(n, n, 0));
  EXPECT_THAT(lines[0].selector(), HasSubstr(kQuarantine));
  EXPECT_EQ(std::set<std::string>(lines[0].queue_ids().begin(),
                                  lines[0].queue_ids().end()),
            *quarantined);
  // The controller vouched for the operator from its own connection.
  EXPECT_THAT(lines[0].peer(), HasSubstr("127.0.0.1"));

  // And back, by the ids the hold reported.
  v1::ActRequest release;
  release.set_action(v1::ACTION_RELEASE);
  for (const std::string& id : *quarantined) {
    release.mutable_selector()->add_queue_ids(id);
  }
  act = op.Act(release);
  ASSERT_TRUE(act.status.ok()) << Describe(act.status);
  ASSERT_EQ(act.results.size(), 1u);
  ASSERT_FALSE(act.results[0].has_failure())
      << act.results[0].failure().error();
  EXPECT_EQ(act.results[0].response().succeeded(), n);
  ExpectQueueIs(at_start_, "after the release");
  lines = ControllerAudit();
  ASSERT_EQ(lines.size(), 1u);
  ExpectAudit(
      lines[0],
      WantAudit{"otto", "operator", kGateway, "release", "ok"}.Counts(n, n, 0));
  lines = AgentAudit();
  ASSERT_EQ(lines.size(), 1u);
  ExpectAudit(lines[0],
              WantAudit{"otto", "operator", Hostname(), "release", "ok"}
                  .ViaController()
                  .Counts(n, n, 0));
}

TEST_F(SecurityEndToEndTest,
       AgentBelievesAForwardedPrincipalOnlyFromTheControllersCertificate) {
  const v1::ActRequest hold = QuarantineRequest(v1::ACTION_HOLD, false);
  const std::vector<std::pair<std::string, std::string>> forged = {
      {"x-mailfleet-principal", "otto"}, {"x-mailfleet-role", "operator"}};

  // An operator's certificate (not the controller's) and a viewer's token,
  // claiming to act for an operator: the claim is ignored.
  ClientIdentity viewer = As(s_->viewer);
  viewer.metadata = forged;
  Calls forger = CallsAs(viewer);
  v1::ActResponse resp;
  grpc::Status s = forger.AgentAct(hold, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(s);
  ExpectQueueIs(at_start_, "by a forged principal on the agent");
  std::vector<v1::AuditRecord> lines = AgentAudit();
  ASSERT_EQ(lines.size(), 1u);
  ExpectAudit(lines[0],
              WantAudit{"vera", "viewer", Hostname(), "hold", "denied"});

  // The controller takes no such claim from its callers either.
  FleetActResult act = forger.Act(hold);
  EXPECT_EQ(act.status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << Describe(act.status);
  ExpectQueueIs(at_start_, "by a forged principal on the controller");
  lines = ControllerAudit();
  ASSERT_EQ(lines.size(), 1u);
  ExpectAudit(lines[0], WantAudit{"vera", "viewer", "", "hold", "denied"});

  // The claim alone, without a token, identifies nobody.
  ClientIdentity claim_only{ClientTls(s_->certs.Operator(kOperatorCert))};
  claim_only.metadata = forged;
  s = CallsAs(claim_only).AgentAct(hold, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << Describe(s);
  ExpectQueueIs(at_start_, "by a principal claimed without a token");
  lines = AgentAudit();
  ASSERT_EQ(lines.size(), 1u);
  ExpectAudit(lines[0], WantAudit{"", "", Hostname(), "hold", "denied"});

  // An operator's own token directly on the agent: reads work, and from
  // loopback (as every test call is) it is the local operator, who may act.
  Calls op = CallsAs(As(s_->op));
  EXPECT_TRUE(op.AgentSummary().ok());
  const std::string id = at_start_.begin()->first;
  ReadResult read = op.AgentGet(id, /*envelope_only=*/false);
  ASSERT_TRUE(read.status.ok()) << Describe(read.status);
  EXPECT_FALSE(read.content.empty());
  lines = AgentAudit();
  ASSERT_EQ(lines.size(), 1u);
  ExpectAudit(lines[0],
              WantAudit{"otto", "operator", Hostname(), "read", "ok"});
  auto quarantined = Quarantined();
  ASSERT_TRUE(quarantined.ok()) << quarantined.status();
  s = op.AgentAct(QuarantineRequest(v1::ACTION_HOLD, true), &resp);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(resp.matched(), static_cast<int64_t>(quarantined->size()));
  ExpectQueueIs(at_start_, "by a dry run");
  lines = AgentAudit();
  ASSERT_EQ(lines.size(), 1u);
  ExpectAudit(
      lines[0],
      WantAudit{"otto", "operator", Hostname(), "hold", "ok"}.DryRun().Matched(
          static_cast<int64_t>(quarantined->size())));
  EXPECT_THAT(ControllerAudit(), IsEmpty());
}

TEST_F(SecurityEndToEndTest, CliTakesItsTokenFromAFileOrTheEnvironment) {
  auto quarantined = Quarantined();
  ASSERT_TRUE(quarantined.ok()) << quarantined.status();
  std::vector<std::string> flags = s_->certs.Operator(kOperatorCert).Flags();
  flags.insert(flags.begin(), {"--controller", s_->controller->address()});
  auto cli = [&](std::vector<std::string> token_flags,
                 std::vector<std::string> command,
                 std::vector<std::string> env = {}) {
    std::vector<std::string> args = flags;
    args.insert(args.end(), token_flags.begin(), token_flags.end());
    args.insert(args.end(), command.begin(), command.end());
    return Cli(args, std::move(env));
  };
  const std::vector<std::string> hold = {
      "hold",    "--all-gateways", "--match", kQuarantine,
      "--field", "recipient",      "--yes"};
  const std::vector<std::string> release = {
      "release", "--all-gateways", "--match", kQuarantine,
      "--field", "recipient",      "--yes"};
  const std::string viewer_file = s_->dir.path() + "/viewer.token";
  const std::string op_file = s_->dir.path() + "/operator.token";
  // The first line counts, trimmed.
  ASSERT_TRUE(WriteWholeFile(viewer_file, s_->viewer.secret + " \n").ok());
  ASSERT_TRUE(WriteWholeFile(op_file, "  " + s_->op.secret + "\n# otto\n").ok());
  // One line, saying why: gRPC's name for the refusal, or the words of
  // the reason.
  auto expect_refused = [&](const CliResult& r, const std::string& code,
                            const std::string& reason) {
    EXPECT_NE(r.exit_code, 0) << r.out << r.err;
    const std::string err(absl::StripTrailingAsciiWhitespace(r.err));
    EXPECT_FALSE(err.empty());
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 0) << err;
    const std::string lower = absl::AsciiStrToLower(err);
    EXPECT_TRUE(absl::StrContains(lower, code) ||
                absl::StrContains(lower, reason))
        << err;
  };

  expect_refused(cli({"--token-file", viewer_file}, hold), "permission denied",
                 "viewer");
  ExpectQueueIs(at_start_, "by the CLI with a viewer's token file");
  expect_refused(cli({}, hold, {"MAILFLEET_TOKEN=" + s_->viewer.secret}),
                 "permission denied", "viewer");
  ExpectQueueIs(at_start_, "by the CLI with a viewer's MAILFLEET_TOKEN");
  expect_refused(cli({}, hold), "unauthenticated", "token");
  ExpectQueueIs(at_start_, "by the CLI without a token");
  std::vector<v1::AuditRecord> lines = ControllerAudit();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].principal(), "vera");
  EXPECT_EQ(lines[1].principal(), "vera");
  EXPECT_EQ(lines[2].principal(), "");
  for (const v1::AuditRecord& r : lines) {
    EXPECT_EQ(r.verb(), "hold");
    EXPECT_EQ(r.result(), "denied");
  }

  CliResult held = cli({"--token-file", op_file}, hold);
  ASSERT_EQ(held.exit_code, 0) << held.out << held.err;
  QueueState want = at_start_;
  for (const std::string& id : *quarantined) want[id] = "hold";
  ExpectQueueIs(want, "by the CLI's hold");
  CliResult released = cli({}, release, {"MAILFLEET_TOKEN=" + s_->op.secret});
  ASSERT_EQ(released.exit_code, 0) << released.out << released.err;
  ExpectQueueIs(at_start_, "by the CLI's release");
  lines = ControllerAudit();
  ASSERT_EQ(lines.size(), 2u);
  for (const v1::AuditRecord& r : lines) {
    EXPECT_EQ(r.principal(), "otto");
    EXPECT_EQ(r.result(), "ok");
    EXPECT_EQ(r.succeeded(), static_cast<int64_t>(quarantined->size()));
  }
  EXPECT_EQ(lines[0].verb(), "hold");
  EXPECT_EQ(lines[1].verb(), "release");
}

TEST_F(SecurityEndToEndTest, SighupReloadsTheControllersTokensAndAuditLog) {
  auto nora = NewToken("nora", "viewer");
  ASSERT_TRUE(nora.ok()) << nora.status();
  Calls reader = CallsAs(As(s_->reader));
  Calls newcomer = CallsAs(As(*nora));
  Calls viewer = CallsAs(As(s_->viewer));
  ASSERT_TRUE(reader.ListGateways().ok());
  grpc::Status s = newcomer.ListGateways();
  ASSERT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << Describe(s);

  // The reader's token revoked, nora's added; the audit log rotated away.
  const std::string original = ReadWholeFile(s_->controller_tokens);
  ASSERT_TRUE(WriteWholeFile(s_->controller_tokens,
                        absl::StrCat(s_->viewer.line, "\n", s_->op.line, "\n",
                                     nora->line, "\n"))
                  .ok());
  const std::string rotated = s_->controller_audit + ".1";
  ASSERT_EQ(std::rename(s_->controller_audit.c_str(), rotated.c_str()), 0);
  const size_t rotated_size = ReadWholeFile(rotated).size();
  ASSERT_TRUE(s_->controller->Reload());
  grpc::Status revoked, added;
  EXPECT_TRUE(PollUntil(kReloadTime,
                        [&] {
                          revoked = reader.ListGateways();
                          added = newcomer.ListGateways();
                          return revoked.error_code() ==
                                     grpc::StatusCode::UNAUTHENTICATED &&
                                 added.ok();
                        }))
      << "the revoked token: " << Describe(revoked)
      << "; the new one: " << Describe(added);
  EXPECT_TRUE(viewer.ListGateways().ok());

  // A refusal now goes to a new file at the old path.
  FleetActResult act = newcomer.Act(QuarantineRequest(v1::ACTION_HOLD, false));
  EXPECT_EQ(act.status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << Describe(act.status);
  EXPECT_EQ(ReadWholeFile(rotated).size(), rotated_size)
      << "written to the rotated file";
  AuditTail fresh(s_->controller_audit);
  auto lines = fresh.Next();
  ASSERT_TRUE(lines.ok()) << lines.status();
  ASSERT_EQ(lines->size(), 1u);
  ExpectAudit((*lines)[0], WantAudit{"nora", "viewer", "", "hold", "denied"});

  // As it was, for whatever runs next.
  ASSERT_TRUE(WriteWholeFile(s_->controller_tokens, original).ok());
  ASSERT_TRUE(s_->controller->Reload());
  EXPECT_TRUE(PollUntil(kReloadTime, [&] {
    return reader.ListGateways().ok() && newcomer.ListGateways().error_code() ==
                                             grpc::StatusCode::UNAUTHENTICATED;
  }));
}

}  // namespace
}  // namespace mailfleet::testing
