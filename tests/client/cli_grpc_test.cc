// The CLI end to end, in-process: RunCli against a fake agent served over
// loopback gRPC, checking what an operator or a script would see.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/cli/cli.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/cli_run.h"
#include "tests/client/fake_agent_service.h"
#include "tests/client/sample_messages.h"

namespace mailfleet::cli {
namespace {

using ::mailfleet::testing::FakeAgentServer;
using ::mailfleet::testing::FakeAgentService;
using ::mailfleet::testing::SampleMessages;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const absl::Time kNow = absl::FromUnixSeconds(1732449600);

class CliGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FakeAgentServer>(&service_);
    ASSERT_FALSE(server_->address().empty());
  }

  // mailfleet --agent <fake> args...
  CliRun Mailfleet(std::vector<std::string> args) {
    args.insert(args.begin(), {"--agent", server_->address()});
    std::ostringstream out, err;
    CliEnv env{&out, &err, kNow, absl::UTCTimeZone()};
    int exit_code = RunCli(args, env);
    return {exit_code, out.str(), err.str()};
  }

  std::vector<int> PageSizesAsked() const {
    std::vector<int> sizes;
    for (const auto& request : service_.list_requests()) {
      sizes.push_back(request.page_size());
    }
    return sizes;
  }

  FakeAgentService service_;
  std::unique_ptr<FakeAgentServer> server_;
};

// Refused before any call: nothing is sent, so no server is needed.
CliRun MailfleetWithToken(std::vector<std::string> args, const std::string& token) {
  std::ostringstream out, err;
  CliEnv env{&out, &err, kNow, absl::UTCTimeZone()};
  env.token = token;
  int exit_code = RunCli(args, env);
  return {exit_code, out.str(), err.str()};
}

TEST(CliSecurityTest, ATokenIsNeverSentInClearOffThisHost) {
  CliRun run = MailfleetWithToken({"--agent", "192.0.2.7:7070", "summary"}, "s3cret");
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(run.err,
            "mailfleet: refusing to send a token without TLS to 192.0.2.7:7070: give "
            "--tls-ca\n");
  run = MailfleetWithToken({"--controller", "gw.example.net:7071", "gateways"}, "s3cret");
  EXPECT_THAT(run.err, HasSubstr("refusing to send a token without TLS"));
}

TEST(CliSecurityTest, ATokenFileWithoutATokenIsAnError) {
  const std::string path = ::testing::TempDir() + "/cli_empty_token";
  FILE* f = fopen(path.c_str(), "w");
  fputs("\n\n", f);
  fclose(f);
  CliRun run = MailfleetWithToken(
      {"--agent", "127.0.0.1:1", "--token-file", path, "summary"}, "from-env");
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(run.err, "mailfleet: --token-file: " + path + " holds no token\n");
  run = MailfleetWithToken(
      {"--agent", "127.0.0.1:1", "--token-file", path + ".missing", "summary"}, "");
  EXPECT_THAT(run.err, HasSubstr("--token-file: " + path + ".missing: No such file"));
}

TEST(CliSecurityTest, TlsFlagsAreCheckedBeforeAnyCall) {
  CliRun run = MailfleetWithToken(
      {"--agent", "127.0.0.1:1", "--tls-cert", "/nonexistent.pem", "summary"}, "");
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(run.err, "mailfleet: --tls-cert and --tls-key go together: name both or "
                     "neither\n");
  run = MailfleetWithToken(
      {"--agent", "127.0.0.1:1", "--tls-ca", "/nonexistent/ca.pem", "summary"}, "");
  EXPECT_THAT(run.err, HasSubstr("--tls-ca: /nonexistent/ca.pem: No such file"));
}

TEST(CliHealthTest, SaysWhetherTheServerIsServing) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  FakeAgentService service;  // a server serves health beside a service
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  const std::string address = absl::StrCat("127.0.0.1:", port);

  CliRun run = MailfleetWithToken({"--agent", address, "health"}, "");
  EXPECT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(run.out, "SERVING\n");
  run = MailfleetWithToken({"--controller", address, "health", "-o", "json"}, "");
  EXPECT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(run.out, "{\"status\":\"SERVING\"}\n");

  server->GetHealthCheckService()->SetServingStatus(false);
  run = MailfleetWithToken({"--agent", address, "health"}, "");
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(run.out, "");
  EXPECT_THAT(run.err, HasSubstr("not serving: NOT_SERVING"));

  server->Shutdown();
  run = MailfleetWithToken({"--agent", address, "--timeout", "2s", "health"}, "");
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_THAT(run.err, StartsWith("mailfleet: cannot reach agent at " + address));
}

TEST_F(CliGrpcTest, LsJsonPagesThroughEveryMessage) {
  std::vector<v1::Message> messages = SampleMessages(12001, 2, kNow);
  service_.SetMessages(messages);
  CliRun run = Mailfleet({"ls", "-o", "json"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(run.err, "");
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), messages.size());
  for (size_t i = 0; i < messages.size(); i += 997) {
    EXPECT_EQ(lines[i], ProtobufJson(messages[i]));
  }
  EXPECT_EQ(lines.back(), ProtobufJson(messages.back()));
  EXPECT_THAT(PageSizesAsked(), ElementsAre(5000, 5000, 5000));
  EXPECT_EQ(service_.list_requests()[2].page_token(), "10000");
}

TEST_F(CliGrpcTest, LsWithLimitStopsAndAsksForNoMore) {
  service_.SetMessages(SampleMessages(12001, 1, kNow));
  CliRun run = Mailfleet({"ls", "-o", "json", "--limit", "7000"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(Lines(run.out).size(), 7000u);
  EXPECT_THAT(PageSizesAsked(), ElementsAre(5000, 2000));
}

TEST_F(CliGrpcTest, LsWithSmallLimitMakesOneSmallCall) {
  service_.SetMessages(SampleMessages(50, 1, kNow));
  CliRun run = Mailfleet({"--limit", "3", "ls"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  // Header, three rows, footer.
  EXPECT_EQ(Lines(run.out).size(), 5u);
  EXPECT_THAT(PageSizesAsked(), ElementsAre(3));
}

TEST_F(CliGrpcTest, LsTableHasHeaderOneRowPerMessageAndTotals) {
  std::vector<v1::Message> messages = SampleMessages(3, 2, kNow);
  service_.SetMessages(messages);
  CliRun run = Mailfleet({"ls"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_THAT(lines[0], StartsWith("QUEUE ID"));
  EXPECT_THAT(lines[1], StartsWith(messages[0].queue_id() + "  deferred"));
  EXPECT_THAT(lines[1], HasSubstr(messages[0].recipients(0).address() + " +1"));
  EXPECT_THAT(lines[4], StartsWith("-- 3 messages, "));
}

TEST_F(CliGrpcTest, LsSendsTheFilterBuiltFromFlags) {
  service_.SetMessages(SampleMessages(12, 1, kNow));
  CliRun run = Mailfleet(
      {"ls", "--queue", "hold,mpa-error", "--match", "@example\\.com$",
       "--regex", "--field", "sender", "--older-than", "1h", "--newer-than",
       "2d", "--min-size", "10k", "--max-size", "1M", "-o", "json"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  ASSERT_EQ(service_.list_requests().size(), 1u);
  v1::Filter expected;
  expected.add_queues(v1::POSTFIX_HOLD);
  expected.add_queues(v1::MPA_ERROR);
  expected.set_pattern("@example\\.com$");
  expected.set_regex(true);
  expected.add_fields(v1::MATCH_FIELD_SENDER);
  expected.mutable_min_age()->set_seconds(3600);
  expected.mutable_max_age()->set_seconds(2 * 86400);
  expected.set_min_size(10240);
  expected.set_max_size(1 << 20);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      service_.list_requests()[0].filter(), expected))
      << service_.list_requests()[0].filter().DebugString();
  // The fake honours queues: 2 of every 6 sample messages are hold or
  // mpa-error.
  EXPECT_EQ(Lines(run.out).size(), 4u);
}

TEST_F(CliGrpcTest, LsFailingAtOnceHasNoHeaderAndOneErrorLine) {
  service_.SetFailure(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   "pattern too long:\nat most 1024 bytes"));
  CliRun run = Mailfleet({"ls"});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "mailfleet: pattern too long: at most 1024 bytes\n");
}

TEST_F(CliGrpcTest, LsFailingMidwayKeepsWhatWasPrinted) {
  service_.SetMessages(SampleMessages(7000, 1, kNow));
  service_.SetStuckToken(true);
  CliRun run = Mailfleet({"ls", "-o", "json"});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(Lines(run.out).size(), 10000u);
  EXPECT_THAT(Lines(run.err), ElementsAre(HasSubstr("same page token twice")));
}

TEST_F(CliGrpcTest, SummaryPassesFilterAndTopAndPrintsJson) {
  v1::SummaryResponse summary;
  summary.mutable_agent()->set_hostname("gw1.example.com");
  summary.mutable_summary()->set_total_messages(3);
  service_.SetSummary(summary);
  CliRun run =
      Mailfleet({"summary", "-o", "json", "--queue", "deferred", "--top", "5"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(run.out, ProtobufJson(summary) + "\n");
  ASSERT_EQ(service_.summary_requests().size(), 1u);
  EXPECT_EQ(service_.summary_requests()[0].top_n(), 5);
  EXPECT_THAT(service_.summary_requests()[0].filter().queues(),
              ElementsAre(v1::POSTFIX_DEFERRED));

  run = Mailfleet({"summary"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_THAT(run.out, StartsWith("agent:      gw1.example.com\n"));
  EXPECT_FALSE(service_.summary_requests()[1].has_filter());
}

class CliShowTest : public CliGrpcTest {
 protected:
  void SetUp() override {
    CliGrpcTest::SetUp();
    messages_ = SampleMessages(2, 2, kNow);
    id_ = messages_[1].queue_id();
    service_.SetMessages(messages_);
    // Binary-safe: every byte value, CRLF lines, no final newline.
    content_ = "Received: from client\r\nSubject: test\r\n\r\n";
    for (int i = 0; i < 200000; ++i) content_.push_back(static_cast<char>(i));
    service_.SetContent(id_, content_);
  }

  std::vector<v1::Message> messages_;
  std::string id_;
  std::string content_;
};

TEST_F(CliShowTest, PrintsEnvelopeBlankLineThenContentVerbatim) {
  for (size_t chunk : {size_t{64} << 10, size_t{7}}) {
    service_.SetChunkSize(chunk);
    CliRun run = Mailfleet({"show", id_});
    ASSERT_EQ(run.exit_code, kExitOk) << run.err;
    const size_t blank = run.out.find("\n\n");
    ASSERT_NE(blank, std::string::npos);
    EXPECT_THAT(run.out.substr(0, blank),
                StartsWith("queue id:      " + id_ + "\nqueue:         "));
    EXPECT_THAT(
        run.out.substr(0, blank),
        HasSubstr("recipient:     " + messages_[1].recipients(1).address()));
    EXPECT_EQ(run.out.substr(blank + 2), content_) << "chunk size " << chunk;
  }
}

TEST_F(CliShowTest, EnvelopeOnlyPrintsNoContentAndAsksForNone) {
  CliRun run = Mailfleet({"show", "--envelope-only", id_});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_THAT(run.out, ::testing::EndsWith("\n"));
  EXPECT_EQ(run.out.find("\n\n"), std::string::npos);
  EXPECT_EQ(run.out.find("Subject"), std::string::npos);
  EXPECT_TRUE(service_.get_requests().back().envelope_only());
}

TEST_F(CliShowTest, JsonIsOneMessageWithContentLine) {
  service_.SetChunkSize(1000);
  CliRun run = Mailfleet({"show", id_, "-o", "json"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  v1::MessageWithContent expected;
  *expected.mutable_envelope() = messages_[1];
  expected.set_content(content_);
  EXPECT_EQ(run.out, ProtobufJson(expected) + "\n");
}

TEST_F(CliShowTest, UnknownIdIsOneLineAndExitOne) {
  CliRun run = Mailfleet({"show", "NOPE1"});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "mailfleet: no message with queue id 'NOPE1' on this gateway\n");
}

TEST_F(CliShowTest, InvalidIdIsOneLineAndExitOne) {
  CliRun run = Mailfleet({"show", "../etc/passwd", "-o", "json"});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "mailfleet: queue id '../etc/passwd' has invalid characters: "
            "expected [0-9A-Za-z]\n");
}

TEST(CliUnreachableTest, UnreachableAgentNamesTheAddress) {
  std::string address;
  {
    // A port that was just free, and is closed again.
    FakeAgentService service;
    FakeAgentServer server(&service);
    address = server.address();
  }
  std::ostringstream out, err;
  CliEnv env{&out, &err, kNow, absl::UTCTimeZone()};
  int exit_code =
      RunCli({"--agent", address, "--timeout", "5s", "summary"}, env);
  EXPECT_EQ(exit_code, kExitFailure);
  EXPECT_EQ(out.str(), "");
  EXPECT_THAT(Lines(err.str()),
              ElementsAre(StartsWith("mailfleet: cannot reach agent at " +
                                     address + ": ")));
}

}  // namespace
}  // namespace mailfleet::cli
