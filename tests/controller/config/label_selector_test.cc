#include "controller/config/label_selector.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mailfleet::controller {
namespace {

using ::testing::HasSubstr;

// The canonical form of `text` parsed, or its error.
std::string Canonical(absl::string_view text) {
  absl::StatusOr<LabelSelector> selector = LabelSelector::Parse(text);
  if (!selector.ok()) {
    EXPECT_EQ(selector.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string("error: ") + std::string(selector.status().message());
  }
  return selector->ToString();
}

TEST(LabelSelectorTest, ParsesEveryForm) {
  EXPECT_EQ(Canonical("site=ams"), "site=ams");
  EXPECT_EQ(Canonical("site==ams"), "site=ams");
  EXPECT_EQ(Canonical("env!=test"), "env!=test");
  EXPECT_EQ(Canonical("canary"), "canary");
  EXPECT_EQ(Canonical("!canary"), "!canary");
  EXPECT_EQ(Canonical("env="), "env=");
  EXPECT_EQ(Canonical("env!="), "env!=");
  EXPECT_EQ(Canonical("example.com/team=mail-ops_1.x"),
            "example.com/team=mail-ops_1.x");
  EXPECT_EQ(Canonical("site=ams,env!=test,canary,!draining,tier==1"),
            "site=ams,env!=test,canary,!draining,tier=1");
}

TEST(LabelSelectorTest, IgnoresWhitespaceAroundTermsAndOperators) {
  EXPECT_EQ(Canonical("  site = ams ,\tenv != test , ! draining , canary  "),
            "site=ams,env!=test,!draining,canary");
  EXPECT_EQ(Canonical("site== ams"), "site=ams");
}

TEST(LabelSelectorTest, CanonicalFormParsesToItself) {
  for (absl::string_view text :
       {"a=b", "a!=b", "a", "!a", "a=", "a=b, c!=d ,!e,f"}) {
    std::string once = Canonical(text);
    EXPECT_EQ(Canonical(once), once) << text;
  }
}

TEST(LabelSelectorTest, RefusesAnEmptySelector) {
  EXPECT_EQ(Canonical(""),
            "error: an empty selector selects nothing; use --all-gateways");
  EXPECT_EQ(Canonical("  \t"),
            "error: an empty selector selects nothing; use --all-gateways");
}

TEST(LabelSelectorTest, RefusesBadTermsNamingThem) {
  EXPECT_EQ(Canonical("=x"),
            "error: label selector term '=x': it has no label key");
  EXPECT_EQ(Canonical("!=x"),
            "error: label selector term '!=x': label key '=x' has "
            "a character outside [A-Za-z0-9._/-]");
  EXPECT_EQ(Canonical("a=b=c"),
            "error: label selector term 'a=b=c': label value 'b=c' has a "
            "character outside [A-Za-z0-9._-]");
  EXPECT_EQ(Canonical("a!b"),
            "error: label selector term 'a!b': '!' must start the term (!key) "
            "or be part of '!='");
  EXPECT_EQ(Canonical("a!"),
            "error: label selector term 'a!': '!' must start "
            "the term (!key) or be part of '!='");
  EXPECT_EQ(Canonical("!"),
            "error: label selector term '!': it has no label key");
  EXPECT_EQ(Canonical("a===b"),
            "error: label selector term 'a===b': label value '=b' has a "
            "character outside [A-Za-z0-9._-]");
  EXPECT_EQ(Canonical("!a=b"),
            "error: label selector term '!a=b': label key 'a=b' has a "
            "character outside [A-Za-z0-9._/-]");
  EXPECT_EQ(Canonical("site=ams,a b"),
            "error: label selector term 'a b': label key 'a b' has a "
            "character outside [A-Za-z0-9._/-]");
  EXPECT_EQ(Canonical("site in (ams)"),
            "error: label selector term 'site in (ams)': label key "
            "'site in (ams)' has a character outside [A-Za-z0-9._/-]");
  EXPECT_EQ(Canonical("site=a/b"),
            "error: label selector term 'site=a/b': label value 'a/b' has a "
            "character outside [A-Za-z0-9._-]");
  EXPECT_THAT(Canonical(std::string(64, 'k')), HasSubstr("longer than 63"));
  EXPECT_THAT(Canonical("k=" + std::string(64, 'v')),
              HasSubstr("longer than 63"));
}

TEST(LabelSelectorTest, RefusesEmptyTerms) {
  for (absl::string_view text : {"a=b,", ",a=b", "a=b,,c", "a, ,b", ","}) {
    EXPECT_THAT(Canonical(text), HasSubstr("has an empty term")) << text;
  }
  EXPECT_EQ(
      Canonical("a=b,"),
      "error: label selector 'a=b,' has an empty term (a comma too many)");
}

TEST(LabelSelectorTest, MatchesTruthTable) {
  const Labels ams_prod = {{"site", "ams"}, {"env", "prod"}};
  const Labels ams_empty_env = {{"site", "ams"}, {"env", ""}};
  const Labels fra = {{"site", "fra"}};
  const Labels none = {};
  struct Row {
    absl::string_view selector;
    bool ams_prod, ams_empty_env, fra, none;
  };
  for (const Row& row : std::vector<Row>{
           {"site=ams", true, true, false, false},
           {"site==ams", true, true, false, false},
           {"site!=ams", false, false, true, true},  // absent key matches
           {"env", true, true, false, false},
           {"!env", false, false, true, true},
           {"env=", false, true, false, false},
           {"env!=", true, false, true, true},
           {"site=ams,env=prod", true, false, false, false},
           {"site=ams,env!=prod", false, true, false, false},
           {"site,!env", false, false, true, false},
           {"site=ams,site=fra", false, false, false, false},
           {"site=AMS", false, false, false, false},  // values case-sensitive
       }) {
    absl::StatusOr<LabelSelector> s = LabelSelector::Parse(row.selector);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->Matches(ams_prod), row.ams_prod) << row.selector;
    EXPECT_EQ(s->Matches(ams_empty_env), row.ams_empty_env) << row.selector;
    EXPECT_EQ(s->Matches(fra), row.fra) << row.selector;
    EXPECT_EQ(s->Matches(none), row.none) << row.selector;
  }
}

TEST(LabelSyntaxTest, KeysAndValues) {
  EXPECT_TRUE(ValidateLabelKey("example.com/a_b-1").ok());
  EXPECT_TRUE(ValidateLabelKey(std::string(63, 'k')).ok());
  EXPECT_EQ(ValidateLabelKey("").message(), "label key is empty");
  EXPECT_EQ(ValidateLabelKey(std::string(64, 'k')).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ValidateLabelKey("a:b").ok());
  EXPECT_TRUE(ValidateLabelValue("").ok());
  EXPECT_TRUE(ValidateLabelValue("v1.2_x-y").ok());
  EXPECT_TRUE(ValidateLabelValue(std::string(63, 'v')).ok());
  EXPECT_FALSE(ValidateLabelValue(std::string(64, 'v')).ok());
  EXPECT_FALSE(ValidateLabelValue("a/b").ok());
  EXPECT_FALSE(ValidateLabelValue("a b").ok());
}

}  // namespace
}  // namespace mailfleet::controller
