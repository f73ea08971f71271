#include "controller/config/gateway_selection.h"

#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mailfleet::controller {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class SelectGatewaysTest : public ::testing::Test {
 protected:
  LabelSelector Selector(absl::string_view text) {
    absl::StatusOr<LabelSelector> s = LabelSelector::Parse(text);
    EXPECT_TRUE(s.ok()) << s.status();
    return *s;
  }

  const std::vector<Gateway> fleet_ = {
      {"gw3", "gw3:7070", {{"site", "fra"}, {"env", "prod"}}},
      {"gw1", "gw1:7070", {{"site", "ams"}, {"env", "prod"}}},
      {"gw2", "gw2:7070", {{"site", "ams"}, {"env", "test"}}},
  };
};

TEST_F(SelectGatewaysTest, ByNamesInFileOrderEachOnce) {
  absl::StatusOr<std::vector<std::string>> names =
      SelectGateways(fleet_, {"gw2", "gw3", "gw2"}, std::nullopt, false);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, ElementsAre("gw3", "gw2"));
}

TEST_F(SelectGatewaysTest, UnknownNamesAreNotFoundAndNamed) {
  absl::Status one =
      SelectGateways(fleet_, {"gw1", "gw9"}, std::nullopt, false).status();
  EXPECT_EQ(one.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(one.message(), "no gateway named 'gw9'");
  absl::Status two =
      SelectGateways(fleet_, {"x", "gw1", "GW1", "x"}, std::nullopt, false)
          .status();
  EXPECT_EQ(two.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(two.message(), "no gateways named 'x', 'GW1'");
}

TEST_F(SelectGatewaysTest, BySelectorInFileOrder) {
  absl::StatusOr<std::vector<std::string>> names =
      SelectGateways(fleet_, {}, Selector("env=prod"), false);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, ElementsAre("gw3", "gw1"));
  names = SelectGateways(fleet_, {}, Selector("site=ams,env!=prod"), false);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, ElementsAre("gw2"));
}

TEST_F(SelectGatewaysTest, SelectorMatchingNothingIsNotFound) {
  absl::Status status =
      SelectGateways(fleet_, {}, Selector("site = lon"), false).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(),
            "no gateway matches the label selector 'site=lon'");
}

TEST_F(SelectGatewaysTest, AllInFileOrder) {
  absl::StatusOr<std::vector<std::string>> names =
      SelectGateways(fleet_, {}, std::nullopt, true);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, ElementsAre("gw3", "gw1", "gw2"));
  names = SelectGateways({}, {}, std::nullopt, true);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, IsEmpty());
}

TEST_F(SelectGatewaysTest, ExactlyOneWayOfSelecting) {
  auto code_and_message = [](const absl::Status& s) {
    return std::make_pair(s.code(), std::string(s.message()));
  };
  EXPECT_EQ(code_and_message(
                SelectGateways(fleet_, {}, std::nullopt, false).status()),
            std::make_pair(absl::StatusCode::kInvalidArgument,
                           std::string("no gateways selected: give gateway "
                                       "names, a label selector, or all "
                                       "gateways")));
  const std::string both =
      "more than one selection given: give gateway names, a label selector, "
      "or all gateways";
  EXPECT_EQ(code_and_message(
                SelectGateways(fleet_, {"gw1"}, Selector("a"), false).status()),
            std::make_pair(absl::StatusCode::kInvalidArgument, both));
  EXPECT_EQ(code_and_message(
                SelectGateways(fleet_, {"gw1"}, std::nullopt, true).status()),
            std::make_pair(absl::StatusCode::kInvalidArgument, both));
  EXPECT_EQ(code_and_message(
                SelectGateways(fleet_, {}, Selector("a"), true).status()),
            std::make_pair(absl::StatusCode::kInvalidArgument, both));
}

}  // namespace
}  // namespace mailfleet::controller
