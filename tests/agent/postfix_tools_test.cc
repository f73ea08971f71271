#include "agent/postfix/postfix_tools.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mailfleet::postfix {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Plays postsuper: acts on the IDs it "has", reports like the real one.
class FakePostsuper : public ProcessRunner {
 public:
  absl::StatusOr<ProcessResult> Run(const std::vector<std::string>& argv,
                                    const ProcessOptions& options) override {
    calls.push_back(argv);
    stdins.push_back(options.stdin_text);
    if (fail_with_exit) return ProcessResult{1, "", "postsuper: fatal: disk on fire\n"};
    ProcessResult r;
    for (absl::string_view id : absl::StrSplit(options.stdin_text, '\n', absl::SkipEmpty())) {
      if (present.count(std::string(id))) {
        absl::StrAppend(&r.stderr_text, "postsuper: ", id, ": placed on hold\n");
      }
    }
    return r;
  }
  std::set<std::string> present;
  bool fail_with_exit = false;
  std::vector<std::vector<std::string>> calls;
  std::vector<std::string> stdins;
};

TEST(PostfixToolsTest, HoldRunsPostsuperWithIdsOnStdinAndNoShell) {
  FakePostsuper runner;
  runner.present = {"AAAAAA01", "AAAAAA02"};
  PostfixTools tools(&runner, "/etc/postfix-a");
  auto out = tools.Apply(QueueAction::kHold, {"AAAAAA01", "AAAAAA02", "AAAAAA03"});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(runner.calls.size(), 1u);
  EXPECT_THAT(runner.calls[0], ElementsAre("postsuper", "-c", "/etc/postfix-a", "-h", "-"));
  EXPECT_EQ(runner.stdins[0], "AAAAAA01\nAAAAAA02\nAAAAAA03\n");
  EXPECT_THAT(out->succeeded, ElementsAre("AAAAAA01", "AAAAAA02"));
  ASSERT_EQ(out->failed.size(), 1u);
  EXPECT_EQ(out->failed[0].queue_id, "AAAAAA03");
  EXPECT_THAT(out->failed[0].reason, HasSubstr("no longer"));
}

TEST(PostfixToolsTest, ThousandsOfIdsGoInBatchesNotOneProcessEach) {
  FakePostsuper runner;
  std::vector<std::string> ids;
  for (int i = 0; i < 12000; ++i) {
    ids.push_back(absl::StrFormat("%010X", 0xA00000 + i));
    runner.present.insert(ids.back());
  }
  PostfixTools tools(&runner, "/etc/postfix");
  auto out = tools.Apply(QueueAction::kHold, ids);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(runner.calls.size(), 3u);  // 5000 + 5000 + 2000
  EXPECT_EQ(out->succeeded.size(), 12000u);
  EXPECT_TRUE(out->failed.empty());
}

TEST(PostfixToolsTest, AnInvalidIdStopsEverythingBeforeAnyProcessRuns) {
  FakePostsuper runner;
  PostfixTools tools(&runner, "/etc/postfix");
  for (const char* bad : {"../x", "ABC", "AAAAAA01\nALL", "", "aaaaaa01"}) {
    auto out = tools.Apply(QueueAction::kDelete, {"AAAAAA01", bad});
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(runner.calls.empty());
}

TEST(PostfixToolsTest, AFailedRunMarksItsIdsFailedWithTheReason) {
  FakePostsuper runner;
  runner.fail_with_exit = true;
  PostfixTools tools(&runner, "/etc/postfix");
  auto out = tools.Apply(QueueAction::kHold, {"AAAAAA01"});
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->failed.size(), 1u);
  EXPECT_THAT(out->failed[0].reason, HasSubstr("disk on fire"));
}

// Plays postqueue for flushes.
class FakePostqueue : public ProcessRunner {
 public:
  absl::StatusOr<ProcessResult> Run(const std::vector<std::string>& argv,
                                    const ProcessOptions&) override {
    calls.push_back(argv);
    return result;
  }
  ProcessResult result;
  std::vector<std::vector<std::string>> calls;
};

TEST(PostfixToolsTest, FlushSaysWhenTheMasterIsDown) {
  FakePostqueue runner;
  runner.result = {69, "", "postqueue: fatal: Cannot flush mail queue - mail system is down\n"};
  PostfixTools tools(&runner, "/etc/postfix");
  absl::Status s = tools.FlushAll();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("not running"));
  EXPECT_THAT(runner.calls[0], ElementsAre("postqueue", "-c", "/etc/postfix", "-f"));
}

TEST(PostfixToolsTest, FlushSiteAndIdsAreValidated) {
  FakePostqueue runner;
  PostfixTools tools(&runner, "/etc/postfix");
  EXPECT_TRUE(tools.FlushSite("example.com").ok());
  EXPECT_TRUE(tools.FlushSite("[192.0.2.1]").ok());
  for (const char* bad : {"", "-f", "a b", "x;rm", "../etc", "exa_mple.com"}) {
    EXPECT_EQ(tools.FlushSite(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(tools.FlushIds({"-f"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(tools.FlushIds({"AAAAAA01"}).ok());
  EXPECT_THAT(runner.calls.back(), ElementsAre("postqueue", "-c", "/etc/postfix", "-i", "AAAAAA01"));
  EXPECT_THAT(runner.calls[0], ElementsAre("postqueue", "-c", "/etc/postfix", "-s", "example.com"));
}

}  // namespace
}  // namespace mailfleet::postfix
