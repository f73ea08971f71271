// The shipped binaries together: `mailfleet-agent` serving a real Postfix,
// and the `mailfleet` CLI asking it, compared with postqueue and postcat.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <future>

#include <set>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mailfleet/v1/agent.grpc.pb.h"
#include "tests/e2e/agent_process.h"
#include "tests/e2e/postqueue_json.h"
#include "tests/e2e/support/loopback_ports.h"
#include "tests/e2e/support/message_generator.h"
#include "tests/e2e/support/postfix_instance.h"
#include "tests/e2e/support/smtp_sender.h"

namespace mailfleet::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class CliEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto postfix = PostfixInstance::Create({});
    ASSERT_TRUE(postfix.ok()) << postfix.status();
    postfix_ = postfix->release();
    ASSERT_TRUE(SendMessages(postfix_->smtp_port(), GenerateVariedMessages(600, 99), 4).ok());
    ASSERT_TRUE(postfix_->WaitForQueueToSettle(absl::Minutes(2)).ok());
    auto port = PickFreeLoopbackPort();
    ASSERT_TRUE(port.ok()) << port.status();
    agent_ = new AgentProcess(postfix_->config_dir(), *port);
    ASSERT_TRUE(agent_->WaitUntilServing());
  }
  static void TearDownTestSuite() {
    delete agent_;
    delete postfix_;
  }

  std::vector<std::string> Agent(std::vector<std::string> args) {
    args.insert(args.begin(), {"--agent", agent_->address()});
    return args;
  }

  static PostfixInstance* postfix_;
  static AgentProcess* agent_;
};
PostfixInstance* CliEndToEndTest::postfix_ = nullptr;
AgentProcess* CliEndToEndTest::agent_ = nullptr;

TEST_F(CliEndToEndTest, LsJsonListsWhatPostqueueLists) {
  auto json = postfix_->PostqueueJson();
  ASSERT_TRUE(json.ok());
  auto expected = ParsePostqueueJson(*json);
  ASSERT_TRUE(expected.ok());
  CliResult r = Cli(Agent({"ls", "-o", "json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> ids;
  for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
    v1::Message m;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                    std::string(line.data(), line.size()), &m)
                    .ok())
        << line;
    ids.insert(m.queue_id());
    const PostqueueEntry& e = expected->at(m.queue_id());
    EXPECT_EQ(m.sender(), e.sender);
    EXPECT_EQ(m.recipients_size(), static_cast<int>(e.recipients.size()));
  }
  EXPECT_EQ(ids.size(), expected->size());
  EXPECT_EQ(ids.size(), 600u);
}

TEST_F(CliEndToEndTest, LsWithLimitAndFiltersAndTable) {
  CliResult r = Cli(Agent({"ls", "--limit", "7", "-o", "json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 7);

  r = Cli(Agent({"ls", "--queue", "deferred", "--match", RecipientDomains()[0],
                 "--field", "recipient"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(RecipientDomains()[0]));
  EXPECT_THAT(r.out, HasSubstr("deferred"));

  r = Cli(Agent({"ls", "--queue", "hold"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr(RecipientDomains()[0])));
}

TEST_F(CliEndToEndTest, ShowPrintsTheRawMessageAsPostcatDoes) {
  CliResult ls = Cli(Agent({"ls", "--limit", "1", "-o", "json"}));
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  v1::Message m;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ls.out, &m).ok());
  auto postcat = postfix_->RunTool({"postcat", "-bh", "-q", m.queue_id()});
  ASSERT_TRUE(postcat.ok());
  CliResult show = Cli(Agent({"show", m.queue_id()}));
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr(m.queue_id()));
  EXPECT_TRUE(absl::EndsWith(show.out, postcat->stdout_text));

  CliResult json = Cli(Agent({"show", m.queue_id(), "-o", "json"}));
  ASSERT_EQ(json.exit_code, 0) << json.err;
  v1::MessageWithContent full;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.out, &full).ok());
  EXPECT_EQ(full.content(), postcat->stdout_text);
  EXPECT_EQ(full.envelope().queue_id(), m.queue_id());
}

TEST_F(CliEndToEndTest, SummaryShowsTheQueue) {
  CliResult r = Cli(Agent({"summary"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("deferred"));
  EXPECT_THAT(r.out, HasSubstr("600"));
  r = Cli(Agent({"summary", "-o", "json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::SummaryResponse s;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &s).ok());
  EXPECT_EQ(s.summary().total_messages(), 600);
}

TEST_F(CliEndToEndTest, ErrorsAreOneLineAndNonZero) {
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {{"show", "../../etc/passwd"}, 1, "invalid character"},
           {{"show", "ABCDEF123456"}, 1, "no message ABCDEF123456"},
           {{"ls", "--regex", "--match", "(unclosed"}, 2, "regular expression"},
           {{"ls", "--older-than", "3x"}, 2, "3x"},
           {{"frobnicate"}, 2, "frobnicate"},
       }) {
    CliResult r = Cli(Agent(c.args));
    EXPECT_EQ(r.exit_code, c.exit_code) << c.args[0] << ": " << r.err;
    EXPECT_THAT(r.err, StartsWith("mailfleet: "));
    EXPECT_THAT(r.err, HasSubstr(c.says));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  CliResult r = Cli({"--agent", "127.0.0.1:1", "--timeout", "2s", "summary"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(CliEndToEndTest, HoldAndReleaseByFilterThroughTheShippedBinaries) {
  const std::string domain = RecipientDomains()[4];
  std::vector<std::string> filter = {"--regex", "--match", "@" + domain + "$",
                                     "--field", "recipient"};
  auto with = [&](std::vector<std::string> head) {
    head.insert(head.end(), filter.begin(), filter.end());
    return Agent(head);
  };
  // Without a terminal and without --yes, a filtered action is refused.
  CliResult refused = Cli(with({"hold"}));
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("--yes"));

  CliResult dry = Cli(with({"hold", "--dry-run", "-o", "json"}));
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  v1::ActResponse counted;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(dry.out, &counted).ok()) << dry.out;
  ASSERT_GT(counted.matched(), 0);

  CliResult held = Cli(with({"hold", "--yes"}));
  ASSERT_EQ(held.exit_code, 0) << held.err;
  EXPECT_THAT(held.out, HasSubstr(absl::StrCat(counted.matched(), " matched")));
  auto json = postfix_->PostqueueJson();
  ASSERT_TRUE(json.ok());
  auto queue = ParsePostqueueJson(*json);
  std::set<std::string> in_hold;
  for (const auto& [id, e] : *queue) {
    if (e.queue_name == "hold") in_hold.insert(id);
  }
  EXPECT_EQ(in_hold, std::set<std::string>(counted.queue_ids().begin(),
                                           counted.queue_ids().end()));

  CliResult released = Cli(with({"release", "--yes"}));
  ASSERT_EQ(released.exit_code, 0) << released.err;
  CliResult ls = Cli(Agent({"ls", "--queue", "hold"}));
  EXPECT_THAT(ls.out, HasSubstr("-- 0 messages"));
  CliResult bad = Cli(Agent({"delete", "../x"}));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("invalid character"));
}

TEST_F(CliEndToEndTest, AgentAnswersGrpcHealthChecksAsServing) {
  // grpc.health.v1.Health/Check with an empty request (the whole server);
  // the answer {status: SERVING} encodes as field 1 = 1.
  grpc::GenericStub stub(
      grpc::CreateChannel(agent_->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::ByteBuffer request, response;
  grpc::Slice empty("");
  request = grpc::ByteBuffer(&empty, 1);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status status = done.get_future().get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

}  // namespace
}  // namespace mailfleet::testing
