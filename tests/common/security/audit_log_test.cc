#include "common/security/audit_log.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace mailfleet {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::string> lines = absl::StrSplit(text.str(), '\n', absl::SkipEmpty());
  return lines;
}

v1::AuditRecord Parse(const std::string& line) {
  v1::AuditRecord record;
  auto s = google::protobuf::util::JsonStringToMessage(line, &record);
  EXPECT_TRUE(s.ok()) << s.ToString() << ": " << line;
  return record;
}

TEST(AuditLogTest, OneJsonLinePerRecordWithEveryField) {
  testing::TempDir dir("audit_log_test");
  const std::string path = dir.path() + "/audit.log";
  auto log = AuditLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  Principal ola{"ola", Role::kOperator, "ipv4:127.0.0.1:5000", /*via_controller=*/true};
  v1::AuditRecord record =
      AuditRecordFor(ola, AuditRequest("hold", "gw1", "ids (1): 4F2A31C0B1"));
  record.set_matched(1);
  record.set_succeeded(1);
  record.set_result("ok");
  ASSERT_TRUE((*log)->Write(record).ok());

  std::vector<std::string> lines = Lines(path);
  ASSERT_THAT(lines, SizeIs(1));
  // snake_case names, and zero values printed: a reader greps for them.
  EXPECT_THAT(lines[0], HasSubstr("\"dry_run\":false"));
  EXPECT_THAT(lines[0], HasSubstr("\"via_controller\":true"));
  EXPECT_THAT(lines[0], HasSubstr("\"failed\":\"0\""));
  v1::AuditRecord back = Parse(lines[0]);
  EXPECT_TRUE(back.has_time());
  EXPECT_EQ(back.principal(), "ola");
  EXPECT_EQ(back.role(), "operator");
  EXPECT_EQ(back.peer(), "ipv4:127.0.0.1:5000");
  EXPECT_EQ(back.gateway(), "gw1");
  EXPECT_EQ(back.verb(), "hold");
  EXPECT_EQ(back.matched(), 1);
  EXPECT_EQ(back.result(), "ok");
}

TEST(AuditLogTest, AHostileStringStaysInsideItsField) {
  testing::TempDir dir("audit_log_test");
  const std::string path = dir.path() + "/audit.log";
  auto log = AuditLog::Open(path);
  ASSERT_TRUE(log.ok());
  v1::AuditRecord record;
  record.set_selector("filter {pattern: \"x\\\"}\n{\\\"verb\\\":\\\"none\"}");
  record.set_error("line one\nline two\x01");
  ASSERT_TRUE((*log)->Write(record).ok());
  std::vector<std::string> lines = Lines(path);
  ASSERT_THAT(lines, SizeIs(1));
  v1::AuditRecord back = Parse(lines[0]);
  // Quotes stay (JSON escapes them); a newline cannot start a line of its
  // own.
  EXPECT_EQ(back.selector(), "filter {pattern: \"x\\\"}\\x0a{\\\"verb\\\":\\\"none\"}");
  EXPECT_EQ(back.error(), "line one\\x0aline two\\x01");
}

TEST(AuditLogTest, BytesACallerSentAreEscapedAndCut) {
  testing::TempDir dir("audit_log_test");
  const std::string path = dir.path() + "/audit.log";
  auto log = AuditLog::Open(path);
  ASSERT_TRUE(log.ok());
  v1::AuditRecord record;
  record.set_selector("id \xff\xfe\x01\xc3\xa9");  // not UTF-8, a control byte
  record.set_gateway(std::string(100000, 'g'));
  ASSERT_TRUE((*log)->Write(record).ok());
  std::vector<std::string> lines = Lines(path);
  ASSERT_THAT(lines, SizeIs(1));
  v1::AuditRecord back = Parse(lines[0]);
  EXPECT_EQ(back.selector(), "id \\xff\\xfe\\x01\\xc3\\xa9");
  EXPECT_EQ(back.gateway(), std::string(2048, 'g') + "... (100000 bytes)");
}

TEST(AuditLogTest, ConcurrentRecordsNeverInterleave) {
  testing::TempDir dir("audit_log_test");
  const std::string path = dir.path() + "/audit.log";
  auto log = AuditLog::Open(path);
  ASSERT_TRUE(log.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        v1::AuditRecord r;
        r.set_gateway("gw" + std::to_string(t));
        r.set_selector(std::string(2000, 'a' + t));
        (void)(*log)->Write(r);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<std::string> lines = Lines(path);
  ASSERT_THAT(lines, SizeIs(200));
  for (const std::string& line : lines) Parse(line);
}

TEST(AuditLogTest, ReopenFollowsARotatedFile) {
  testing::TempDir dir("audit_log_test");
  const std::string path = dir.path() + "/audit.log";
  auto log = AuditLog::Open(path);
  ASSERT_TRUE(log.ok());
  v1::AuditRecord r;
  r.set_verb("delete");
  ASSERT_TRUE((*log)->Write(r).ok());
  ASSERT_EQ(std::rename(path.c_str(), (path + ".1").c_str()), 0);
  ASSERT_TRUE((*log)->Write(r).ok());  // still the old file
  ASSERT_TRUE((*log)->Reopen().ok());
  ASSERT_TRUE((*log)->Write(r).ok());
  EXPECT_THAT(Lines(path + ".1"), SizeIs(2));
  EXPECT_THAT(Lines(path), SizeIs(1));
}

TEST(AuditLogTest, AFileThatCannotBeOpenedStopsTheStart) {
  auto log = AuditLog::Open("/nonexistent-dir/audit.log");
  EXPECT_EQ(log.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(log.status().message()), HasSubstr("/nonexistent-dir/audit.log"));
}

}  // namespace
}  // namespace mailfleet
