// Proves the end-to-end fixture itself: a private Postfix instance fills
// with generated mail, defers all of it with delay reasons, can be read with
// the master stopped, and leaves nothing behind.
#include "tests/e2e/support/postfix_instance.h"

#include <unistd.h>

#include <filesystem>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "re2/re2.h"
#include "tests/e2e/support/instance_processes.h"
#include "tests/e2e/support/message_generator.h"
#include "tests/e2e/support/smtp_sender.h"

namespace mailfleet::testing {
namespace {

using ::testing::AllOf;
using ::testing::Ge;
using ::testing::HasSubstr;
using ::testing::Le;
using ::testing::SizeIs;

constexpr absl::Duration kSettleTimeout = absl::Seconds(60);

std::vector<std::string> JsonLines(const std::string& json) {
  return absl::StrSplit(json, '\n', absl::SkipEmpty());
}

class PostfixInstanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "a Postfix instance needs root";
  }

  std::unique_ptr<PostfixInstance> CreateOrDie(
      PostfixInstanceOptions options = {}) {
    absl::StatusOr<std::unique_ptr<PostfixInstance>> instance =
        PostfixInstance::Create(options);
    EXPECT_TRUE(instance.ok()) << instance.status();
    return instance.ok() ? std::move(*instance) : nullptr;
  }
};

TEST_F(PostfixInstanceTest, GeneratedMailEndsUpDeferredWithDelayReasons) {
  auto postfix = CreateOrDie();
  ASSERT_NE(postfix, nullptr);
  const std::vector<TestMessage> messages = GenerateVariedMessages(200, 7);
  size_t recipients = 0;
  for (const TestMessage& m : messages) recipients += m.recipients.size();

  ASSERT_TRUE(SendMessages(postfix->smtp_port(), messages, 4).ok());
  ASSERT_TRUE(postfix->WaitForQueueToSettle(kSettleTimeout).ok());
  absl::StatusOr<std::string> json = postfix->PostqueueJson();
  ASSERT_TRUE(json.ok()) << json.status();

  std::vector<std::string> lines = JsonLines(*json);
  EXPECT_THAT(lines, SizeIs(messages.size()));
  size_t reasons_seen = 0;
  std::set<std::string> distinct_reasons;
  for (const std::string& line : lines) {
    EXPECT_THAT(line, HasSubstr(R"("queue_name": "deferred")"));
    re2::StringPiece rest(line);
    std::string reason;
    while (RE2::FindAndConsume(&rest, R"re("delay_reason": "([^"]*)")re",
                               &reason)) {
      ++reasons_seen;
      distinct_reasons.insert(reason);
    }
  }
  EXPECT_EQ(reasons_seen, recipients);
  // The relayhost, two more closed ports, a missing LMTP socket, and the
  // "delivery temporarily suspended" variants of those.
  EXPECT_GE(distinct_reasons.size(), 4u);
  EXPECT_THAT(*json, HasSubstr("Connection refused"));
}

TEST_F(PostfixInstanceTest, QuotedAndNullSendersAreAcceptedAndListed) {
  auto postfix = CreateOrDie();
  ASSERT_NE(postfix, nullptr);
  std::vector<TestMessage> messages;
  for (const std::string& local : QuotedLocalParts()) {
    messages.push_back({local + "@example.org",
                        {local + "@" + RecipientDomains()[0]},
                        "Subject: quoted\r\n\r\nbody\r\n"});
  }
  messages.push_back(
      {"", {"user1@d1.example.net"}, "Subject: null\r\n\r\nx\r\n"});

  absl::Status sent = SendMessages(postfix->smtp_port(), messages, 2);
  ASSERT_TRUE(sent.ok()) << sent;
  ASSERT_TRUE(postfix->WaitForQueueToSettle(kSettleTimeout).ok());
  absl::StatusOr<std::string> json = postfix->PostqueueJson();
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(JsonLines(*json), SizeIs(messages.size()));
  EXPECT_THAT(*json, HasSubstr(R"("sender": "\"john smith\"@example.org")"));
}

TEST_F(PostfixInstanceTest, SenderNamesTheMessageThePostfixRejected) {
  auto postfix = CreateOrDie();
  ASSERT_NE(postfix, nullptr);
  std::vector<TestMessage> messages = GenerateVariedMessages(3, 1);
  messages[1].recipients = {"two words@d1.example.net"};

  absl::Status sent = SendMessages(postfix->smtp_port(), messages, 1);
  EXPECT_FALSE(sent.ok());
  EXPECT_THAT(sent.message(), HasSubstr("message #1"));
  EXPECT_THAT(sent.message(), HasSubstr("RCPT TO:<two words@d1.example.net>"));
}

TEST_F(PostfixInstanceTest, PostqueueReadsTheQueueWithTheMasterStopped) {
  auto postfix = CreateOrDie();
  ASSERT_NE(postfix, nullptr);
  ASSERT_TRUE(
      SendMessages(postfix->smtp_port(), GenerateVariedMessages(20, 3), 2)
          .ok());
  ASSERT_TRUE(postfix->WaitForQueueToSettle(kSettleTimeout).ok());

  ASSERT_TRUE(postfix->StopMaster().ok());
  EXPECT_FALSE(postfix->MasterRunning());
  EXPECT_THAT(FindInstanceProcesses(postfix->config_dir()), SizeIs(0));
  absl::StatusOr<std::string> json = postfix->PostqueueJson();
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(JsonLines(*json), SizeIs(20));

  ASSERT_TRUE(postfix->StartMaster().ok());
  EXPECT_TRUE(postfix->MasterRunning());
  // A restart must not retry deferred mail (backoff is hours).
  ASSERT_TRUE(postfix->WaitForQueueToSettle(kSettleTimeout).ok());
  json = postfix->PostqueueJson();
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(JsonLines(*json), SizeIs(20));
}

TEST_F(PostfixInstanceTest, ToolsRunAgainstTheInstanceNotTheSystem) {
  PostfixInstanceOptions options;
  options.start = false;
  auto postfix = CreateOrDie(options);
  ASSERT_NE(postfix, nullptr);
  absl::StatusOr<ProcessResult> r =
      postfix->RunTool({"postconf", "-h", "queue_directory"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_text, postfix->queue_dir() + "\n");
  EXPECT_FALSE(postfix->MasterRunning());
}

TEST_F(PostfixInstanceTest, LongQueueIdsOptionIsHonoured) {
  PostfixInstanceOptions options;
  options.long_queue_ids = true;
  auto postfix = CreateOrDie(options);
  ASSERT_NE(postfix, nullptr);
  ASSERT_TRUE(
      SendMessages(postfix->smtp_port(), GenerateVariedMessages(5, 1), 1).ok());
  ASSERT_TRUE(postfix->WaitForQueueToSettle(kSettleTimeout).ok());
  absl::StatusOr<std::string> json = postfix->PostqueueJson();
  ASSERT_TRUE(json.ok()) << json.status();
  for (const std::string& line : JsonLines(*json)) {
    EXPECT_TRUE(RE2::PartialMatch(
        line, R"("queue_id": "[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,}z)"))
        << line;
  }
}

TEST_F(PostfixInstanceTest, DestructorLeavesNoProcessAndNoFiles) {
  auto postfix = CreateOrDie();
  ASSERT_NE(postfix, nullptr);
  ASSERT_TRUE(
      SendMessages(postfix->smtp_port(), GenerateVariedMessages(10, 5), 2)
          .ok());
  const std::string root = postfix->root();
  const std::string config_dir = postfix->config_dir();
  ASSERT_FALSE(FindInstanceProcesses(config_dir).empty());

  postfix.reset();
  EXPECT_THAT(FindInstanceProcesses(config_dir), SizeIs(0));
  EXPECT_FALSE(std::filesystem::exists(root));
}

TEST_F(PostfixInstanceTest, DetachedInstanceSurvivesUntilDestroyedByRoot) {
  auto postfix = CreateOrDie();
  ASSERT_NE(postfix, nullptr);
  const std::string root = postfix->root();
  ASSERT_TRUE(postfix->Detach().ok());
  postfix.reset();
  ASSERT_TRUE(std::filesystem::exists(root));

  absl::StatusOr<std::unique_ptr<PostfixInstance>> attached =
      PostfixInstance::Attach(root);
  ASSERT_TRUE(attached.ok()) << attached.status();
  EXPECT_TRUE((*attached)->MasterRunning());
  EXPECT_TRUE((*attached)->Destroy().ok());
  EXPECT_FALSE(std::filesystem::exists(root));
}

TEST(MessageGeneratorTest, IsDeterministicAndVaried) {
  std::vector<TestMessage> a = GenerateVariedMessages(500, 42);
  std::vector<TestMessage> b = GenerateVariedMessages(500, 42);
  std::vector<TestMessage> slice = GenerateVariedMessages(10, 42, 100);
  ASSERT_THAT(a, SizeIs(500));
  EXPECT_EQ(a[100].data, slice[0].data);
  EXPECT_NE(a[0].data, GenerateMessage(0, 43).data);
  std::set<std::string> senders, domains;
  int null_senders = 0, long_lines = 0, dot_lines = 0, eight_bit = 0;
  size_t largest = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].data, b[i].data);
    EXPECT_EQ(a[i].recipients, b[i].recipients);
    EXPECT_THAT(a[i].recipients, SizeIs(AllOf(Ge(1u), Le(5u))));
    EXPECT_GE(a[i].data.size(), 1024u);
    largest = std::max(largest, a[i].data.size());
    senders.insert(a[i].sender);
    null_senders += a[i].sender.empty();
    for (const std::string& r : a[i].recipients) {
      domains.insert(r.substr(r.rfind('@') + 1));
    }
    for (absl::string_view line : absl::StrSplit(a[i].data, "\r\n")) {
      long_lines += line.size() > 2048;
      dot_lines += absl::StartsWith(line, ".");
      eight_bit += std::any_of(line.begin(), line.end(),
                               [](char c) { return c & 0x80; });
    }
  }
  EXPECT_GT(senders.size(), 150u);
  EXPECT_GT(domains.size(), 100u);
  EXPECT_GT(null_senders, 0);
  EXPECT_GT(long_lines, 0);
  EXPECT_GT(dot_lines, 0);
  EXPECT_GT(eight_bit, 0);
  EXPECT_GT(largest, 50u * 1024);
  EXPECT_LE(largest, 200u * 1024 + 16 * 1024);
}

TEST(SmtpSenderTest, ReportsAConnectionFailure) {
  absl::Status sent = SendMessages(1023, GenerateVariedMessages(1, 1), 1);
  EXPECT_FALSE(sent.ok());
  EXPECT_THAT(sent.message(), HasSubstr("connect to 127.0.0.1:1023"));
}

TEST(SmtpSenderTest, DotStuffsAndTerminatesData) {
  EXPECT_EQ(DotStuffedData(".a\r\nb\r\n..c\r\n."),
            "..a\r\nb\r\n...c\r\n..\r\n.\r\n");
  EXPECT_EQ(DotStuffedData("x\r\n"), "x\r\n.\r\n");
}

}  // namespace
}  // namespace mailfleet::testing
