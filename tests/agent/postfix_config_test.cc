#include "agent/postfix/postfix_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mailfleet::postfix {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Answers like postconf, and remembers what it was asked.
class FakePostconf : public ProcessRunner {
 public:
  explicit FakePostconf(ProcessResult result) : result_(std::move(result)) {}
  absl::StatusOr<ProcessResult> Run(const std::vector<std::string>& argv,
                                    const ProcessOptions&) override {
    argv_ = argv;
    return result_;
  }
  std::vector<std::string> argv_;

 private:
  ProcessResult result_;
};

TEST(PostfixConfigTest, AsksPostconfForEveryParameterWithExpansion) {
  FakePostconf runner({0,
                       "/var/spool/postfix-b\nDeferred, defer hold\n2\n"
                       "MAILER-DAEMON\nno\n500\n3.7.11\n",
                       ""});
  auto c = LoadPostfixConfig(runner, "/etc/postfix-b");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(std::vector<std::string>(runner.argv_.begin(), runner.argv_.begin() + 5),
              ElementsAre("postconf", "-c", "/etc/postfix-b", "-h", "-x"));
  EXPECT_EQ(c->queue_directory, "/var/spool/postfix-b");
  EXPECT_THAT(c->hashed_queues, ElementsAre("deferred", "defer", "hold"));
  EXPECT_TRUE(c->IsHashed("HOLD"));
  EXPECT_FALSE(c->IsHashed("incoming"));
  EXPECT_EQ(c->hash_queue_depth, 2);
  EXPECT_FALSE(c->utf8);
  EXPECT_EQ(c->duplicate_filter_limit, 500);
  EXPECT_EQ(c->mail_version, "3.7.11");
}

TEST(PostfixConfigTest, FailuresSayWhatPostconfSaid) {
  FakePostconf failing({1, "", "postconf: fatal: open /nowhere/main.cf: No such file\n"});
  auto c = LoadPostfixConfig(failing, "/nowhere");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("No such file"));

  EXPECT_FALSE(ParsePostconfOutput("/x", "relative/queue\n\n1\nM\nyes\n1000\n3.7\n").ok());
  EXPECT_FALSE(ParsePostconfOutput("/x", "/q\n\n0\nM\nyes\n1000\n3.7\n").ok());
  EXPECT_FALSE(ParsePostconfOutput("/x", "/q\n").ok());
}

}  // namespace
}  // namespace mailfleet::postfix
