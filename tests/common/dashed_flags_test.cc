#include "common/dashed_flags.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mailfleet {
namespace {

TEST(DashedFlagsTest, FlagNamesGetUnderscoresValuesDoNot) {
  const char* argv[] = {"prog-name", "--postfix-config-dir=/etc/post-fix",
                        "--rescan-interval", "10s", "-log-level", "x-y",
                        "--", "--not-a-flag"};
  std::vector<std::string> out =
      UnderscoreFlagNames(8, const_cast<char**>(argv));
  EXPECT_THAT(out, ::testing::ElementsAre(
                       "prog-name", "--postfix_config_dir=/etc/post-fix",
                       "--rescan_interval", "10s", "-log_level", "x-y", "--",
                       "--not-a-flag"));
  EXPECT_EQ(ArgvOf(out).size(), 9u);
}

}  // namespace
}  // namespace mailfleet
