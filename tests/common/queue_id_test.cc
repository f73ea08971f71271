#include "common/queue_id.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mailfleet {
namespace {

using ::testing::HasSubstr;

TEST(QueueIdTest, AcceptsShortAndLongIds) {
  EXPECT_TRUE(ValidatePostfixQueueId("C3CD21F3E90").ok());
  EXPECT_TRUE(ValidatePostfixQueueId("4B2F1A").ok());
  EXPECT_TRUE(ValidatePostfixQueueId("3Pt2mN2VXxznjll").ok());
  // The time part of a long id may itself contain 'z'.
  EXPECT_TRUE(ValidatePostfixQueueId("4zb2mN2VXxznjll").ok());
}

TEST(QueueIdTest, RejectsWithAReason) {
  auto reason = [](absl::string_view id) {
    return std::string(ValidatePostfixQueueId(id).message());
  };
  EXPECT_THAT(reason(""), HasSubstr("empty"));
  EXPECT_THAT(reason("../x"), HasSubstr("invalid character"));
  EXPECT_THAT(reason("c3cd21f3e90"), HasSubstr("invalid character"));
  EXPECT_THAT(reason("ABC12"), HasSubstr("too short"));
  EXPECT_THAT(reason("3Pt2mN2VXxznjlz"), HasSubstr("no inode"));
  EXPECT_THAT(reason("3Pt2mN2VXxznjAl"), HasSubstr("inode part"));
  EXPECT_THAT(reason("3Pt2mN2VAxznjll"), HasSubstr("time part"));
  EXPECT_THAT(reason(std::string(40, 'A')), HasSubstr("longer than"));
  EXPECT_THAT(reason("ABCDEF\n"), HasSubstr("invalid character"));
  EXPECT_EQ(ValidatePostfixQueueId("C3CD21F3E90 ").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(QueueIdTest, FileNamesFollowPostfixsLooserRule) {
  EXPECT_TRUE(IsPostfixQueueFileName("C3CD21F3E90"));
  EXPECT_TRUE(IsPostfixQueueFileName("example_com"));
  EXPECT_FALSE(IsPostfixQueueFileName("123.456"));
  EXPECT_FALSE(IsPostfixQueueFileName(""));
  EXPECT_FALSE(IsPostfixQueueFileName("A#FIX"));
}

TEST(QueueIdTest, HashPathUsesDepth) {
  EXPECT_EQ(PostfixHashPath("C3CD21F3E90", 1), "C/");
  EXPECT_EQ(PostfixHashPath("C3CD21F3E90", 2), "C/3/");
  EXPECT_EQ(PostfixHashPath("3Pt2mN2VXxznjll", 2), "5/6/");
}

}  // namespace
}  // namespace mailfleet
