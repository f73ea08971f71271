#include "common/security/tokens.h"

#include <cctype>
#include <fstream>

#include "absl/strings/str_cat.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace mailfleet {
namespace {

using ::testing::HasSubstr;

// printf %s abc | sha256sum
constexpr char kAbcSha256[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(Sha256HexTest, MatchesTheStandardVector) {
  EXPECT_EQ(Sha256Hex("abc"), kAbcSha256);
}

TEST(TokenTableTest, FindsATokenByItsHash) {
  auto table = TokenTable::Parse(
      absl::StrCat("# operators\n\nalice operator ", kAbcSha256, "  # on call\n",
                   "bob viewer ", Sha256Hex("bob-secret"), "\n"),
      "tokens");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 2u);
  const TokenHolder* alice = table->Find("abc");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->name, "alice");
  EXPECT_EQ(alice->role, Role::kOperator);
  const TokenHolder* bob = table->Find("bob-secret");
  ASSERT_NE(bob, nullptr);
  EXPECT_EQ(bob->role, Role::kViewer);
  EXPECT_EQ(table->Find("abd"), nullptr);
  EXPECT_EQ(table->Find(""), nullptr);
  // The hash itself is not a token.
  EXPECT_EQ(table->Find(kAbcSha256), nullptr);
}

TEST(TokenTableTest, AcceptsAnUppercaseHash) {
  std::string upper = kAbcSha256;
  for (char& c : upper) c = static_cast<char>(toupper(c));
  auto table = TokenTable::Parse("alice reader " + upper, "t");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_NE(table->Find("abc"), nullptr);
}

TEST(TokenTableTest, EveryErrorNamesTheLine) {
  const std::string hash = kAbcSha256;
  struct Case {
    std::string text;
    std::string error;
  } cases[] = {
      {"alice operator", "t:1: expected NAME ROLE SHA256HEX, found 2 fields"},
      {"\nalice admin " + hash, "t:2: role 'admin' is not viewer, reader or operator"},
      {"al/ice viewer " + hash, "t:1: name 'al/ice'"},
      {"alice viewer abc", "t:1: the third field must be the token's SHA-256"},
      {"alice viewer " + hash.substr(0, 63) + "g", "t:1: the third field"},
      {"alice viewer " + hash + "\nalice reader " + Sha256Hex("x"),
       "t:2: name alice already on line 1"},
      {"alice viewer " + hash + "\nbob reader " + hash,
       "t:2: the same token is listed twice"},
      {"alice viewer " + hash + " extra", "found 4 fields"},
  };
  for (const Case& c : cases) {
    auto table = TokenTable::Parse(c.text, "t");
    ASSERT_FALSE(table.ok()) << c.text;
    EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(table.status().message()), HasSubstr(c.error)) << c.text;
  }
}

TEST(RoleTest, NamesRoundTrip) {
  for (Role r : {Role::kViewer, Role::kReader, Role::kOperator}) {
    EXPECT_EQ(ParseRole(RoleName(r)), r);
  }
  EXPECT_EQ(ParseRole("Operator"), std::nullopt);
  EXPECT_LT(Role::kViewer, Role::kReader);
  EXPECT_LT(Role::kReader, Role::kOperator);
}

TEST(PrincipalNameTest, KeepsToPlainCharacters) {
  EXPECT_TRUE(IsValidPrincipalName("alice@example.net"));
  EXPECT_TRUE(IsValidPrincipalName("ops-team_1.2"));
  EXPECT_FALSE(IsValidPrincipalName(""));
  EXPECT_FALSE(IsValidPrincipalName(std::string(65, 'a')));
  EXPECT_FALSE(IsValidPrincipalName("a b"));
  EXPECT_FALSE(IsValidPrincipalName("a\"b"));
  EXPECT_FALSE(IsValidPrincipalName("a\nb"));
}

class TokenStoreTest : public ::testing::Test {
 protected:
  void Write(const std::string& text) {
    std::ofstream(path_, std::ios::trunc) << text;
  }
  testing::TempDir dir_{"security_test"};
  std::string path_ = dir_.path() + "/tokens";
};

TEST_F(TokenStoreTest, ReloadReplacesTheTableAndAnErrorKeepsIt) {
  Write("alice operator " + Sha256Hex("one") + "\n");
  TokenStore store(path_);
  ASSERT_TRUE(store.Load().ok());
  std::shared_ptr<const TokenTable> first = store.table();
  EXPECT_NE(first->Find("one"), nullptr);

  Write("bob viewer " + Sha256Hex("two") + "\n");
  ASSERT_TRUE(store.Load().ok());
  EXPECT_EQ(store.table()->Find("one"), nullptr);
  EXPECT_NE(store.table()->Find("two"), nullptr);
  // A call that started with the old table keeps it.
  EXPECT_NE(first->Find("one"), nullptr);

  Write("bob viewer nothex\n");
  absl::Status s = store.Load();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr(path_ + ":1:"));
  EXPECT_NE(store.table()->Find("two"), nullptr);
}

TEST_F(TokenStoreTest, AMissingFileIsNotFound) {
  TokenStore store(path_ + ".missing");
  EXPECT_EQ(store.Load().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store.table(), nullptr);
}

}  // namespace
}  // namespace mailfleet
