#include "controller/config/gateways_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace mailfleet::controller {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr absl::string_view kExample =
    R"pb(# The Amsterdam pair.
         gateway {
           name: "gw1"
           address: "10.0.0.5:7070"
           labels { key: "site" value: "ams" }
           labels { key: "env" value: "prod" }
         }
         gateway {
           name: "gw2.ams"
           address: "gw2.example.net:7070"
           labels { key: "site" value: "ams" }
           labels { key: "team/mail" value: "" }
         }
         gateway { name: "gw-3_v6" address: "[2001:db8::5]:443" }
    )pb";

// The error message ParseGatewaysFile gives for `text`, or "OK".
std::string ParseError(absl::string_view text) {
  absl::StatusOr<std::vector<Gateway>> parsed =
      ParseGatewaysFile(text, "gw.txtpb");
  if (parsed.ok()) return "OK";
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(parsed.status().message());
}

// A gateways file with one gateway at `address`.
std::string WithAddress(absl::string_view address) {
  return absl::StrCat("gateway { name: \"gw\" address: \"", address, "\" }");
}

TEST(GatewaysFileTest, ParsesTheExampleInFileOrderWithSortedLabels) {
  absl::StatusOr<std::vector<Gateway>> gateways =
      ParseGatewaysFile(kExample, "gw.txtpb");
  ASSERT_TRUE(gateways.ok()) << gateways.status();
  ASSERT_EQ(gateways->size(), 3u);
  EXPECT_EQ((*gateways)[0].name, "gw1");
  EXPECT_EQ((*gateways)[0].address, "10.0.0.5:7070");
  EXPECT_THAT((*gateways)[0].labels,
              ElementsAre(Pair("env", "prod"), Pair("site", "ams")));
  EXPECT_EQ((*gateways)[1].name, "gw2.ams");
  EXPECT_THAT((*gateways)[1].labels,
              ElementsAre(Pair("site", "ams"), Pair("team/mail", "")));
  EXPECT_EQ((*gateways)[2].address, "[2001:db8::5]:443");
  EXPECT_THAT((*gateways)[2].labels, IsEmpty());
}

TEST(GatewaysFileTest, EmptyFileIsAnEmptyFleet) {
  absl::StatusOr<std::vector<Gateway>> gateways =
      ParseGatewaysFile("# nothing yet\n", "gw.txtpb");
  ASSERT_TRUE(gateways.ok()) << gateways.status();
  EXPECT_THAT(*gateways, IsEmpty());
}

TEST(GatewaysFileTest, SyntaxErrorsGiveFileLineAndColumnFromOne) {
  EXPECT_EQ(ParseError("gateway {\n  name: \"gw1\"\n  adress: \"h:1\"\n}\n"),
            "gw.txtpb:3:9: Message type \"mailfleet.v1.GatewayConfig\" has no "
            "field named \"adress\".");
  EXPECT_THAT(ParseError("gateway {\n  name: \"gw1\"\n"),
              HasSubstr("gw.txtpb:3:1: "));
  EXPECT_THAT(ParseError("gateway { name: gw1 }"),
              AllOf(HasSubstr("gw.txtpb:1:17: "), HasSubstr("string")));
  EXPECT_THAT(
      ParseError("gateway { name: \"a\" name: \"b\" }"),
      AllOf(HasSubstr("gw.txtpb:1:"), HasSubstr("specified multiple times")));
}

TEST(GatewaysFileTest, NamesMustBeValidAndUnique) {
  EXPECT_EQ(ParseError("gateway {\n  address: \"h:1\"\n}"),
            "gw.txtpb:1:1: gateway #1: has no name");
  EXPECT_EQ(ParseError("gateway { address: \"h:1\"\n name: \"a b\" }"),
            "gw.txtpb:2:2: gateway #1: name 'a b' is invalid: expected "
            "[A-Za-z0-9._-]{1,64}");
  EXPECT_THAT(
      ParseError(absl::StrCat("gateway { name: \"", std::string(65, 'g'),
                              "\" address: \"h:1\" }")),
      HasSubstr("is invalid"));
  EXPECT_EQ(ParseError(absl::StrCat("gateway { name: \"", std::string(64, 'g'),
                                    "\" address: \"h:1\" }")),
            "OK");
  EXPECT_EQ(ParseError("gateway { name: \"gw\" address: \"a:1\" }\n"
                       "gateway { name: \"gw\" address: \"b:1\" }\n"),
            "gw.txtpb:2:11: gateway 'gw': the name is already used by an "
            "earlier gateway");
  // Names are case-sensitive.
  EXPECT_EQ(ParseError("gateway { name: \"gw\" address: \"a:1\" }\n"
                       "gateway { name: \"GW\" address: \"b:1\" }\n"),
            "OK");
}

TEST(GatewaysFileTest, AcceptsHostPortWithDnsIpv4OrBracketedIpv6) {
  for (absl::string_view ok :
       {"gw1:7070", "gw1.example.net:1", "gw1.example.net.:65535",
        "10.0.0.5:7070", "255.255.255.255:80", "[::1]:7070",
        "[2001:db8::5]:7070", "xn--bcher-kva.example:7070", "GW1:7070"}) {
    EXPECT_EQ(ParseError(WithAddress(ok)), "OK") << ok;
  }
}

TEST(GatewaysFileTest, RefusesAddressesThatAreNotHostPort) {
  struct Case {
    absl::string_view address;
    absl::string_view problem;
  };
  for (const Case& c : std::vector<Case>{
           {"gw1", "has no port"},
           {"gw1:", "has an invalid port ''"},
           {"gw1:0", "has an invalid port '0'"},
           {"gw1:65536", "has an invalid port '65536'"},
           {"gw1:123456", "has an invalid port '123456'"},
           {"gw1:+80", "has an invalid port '+80'"},
           {"gw1:http", "has an invalid port 'http'"},
           {":7070", "has no host"},
           {"unix:/run/agent.sock", "has an invalid port '/run/agent.sock'"},
           {"dns:///gw1:7070", "has an invalid host name"},
           {"::1:7070", "has an invalid host name"},
           {"[::1]", "has no port"},
           {"[::1:7070", "has no ']'"},
           {"[::g]:7070", "has an invalid IPv6 address"},
           {"[10.0.0.1]:7070", "has an invalid IPv6 address"},
           {"10.0.0.256:7070", "has an invalid IPv4 address"},
           {"10.0.0:7070", "has an invalid IPv4 address"},
           {"010.0.0.1:7070", "has an invalid IPv4 address"},
           {"-gw1:7070", "has an invalid host name"},
           {"gw_1:7070", "has an invalid host name"},
           {"gw1..example:7070", "has an invalid host name"},
           {"gw 1:7070", "has an invalid host name"},
       }) {
    EXPECT_THAT(ParseError(WithAddress(c.address)),
                AllOf(HasSubstr(absl::StrCat("gw.txtpb:1:22: gateway 'gw': "
                                             "address '",
                                             c.address, "' ", c.problem)),
                      HasSubstr("expected host:port")))
        << c.address;
  }
  EXPECT_EQ(ParseError("gateway { name: \"gw\" }"),
            "gw.txtpb:1:1: gateway 'gw': has no address");
  std::string long_host = std::string(63, 'a');
  EXPECT_EQ(ParseError(WithAddress(absl::StrCat(long_host, ":1"))), "OK");
  EXPECT_THAT(ParseError(WithAddress(absl::StrCat(long_host, "a:1"))),
              HasSubstr("invalid host name"));
  EXPECT_THAT(
      ParseError(WithAddress(absl::StrCat(long_host, ".", long_host, ".",
                                          long_host, ".", long_host, ":1"))),
      HasSubstr("invalid host name"));
}

TEST(GatewaysFileTest, RefusesTwoGatewaysForOneAgent) {
  EXPECT_EQ(ParseError("gateway { name: \"a\" address: \"gw.example:1\" }\n"
                       "gateway { name: \"b\" address: \"GW.example:1\" }\n"),
            "gw.txtpb:2:21: gateway 'b': has the address 'GW.example:1' of "
            "gateway 'a': one agent cannot be two gateways");
  EXPECT_EQ(ParseError("gateway { name: \"a\" address: \"gw.example:1\" }\n"
                       "gateway { name: \"b\" address: \"gw.example:2\" }\n"),
            "OK");
}

TEST(GatewaysFileTest, LabelsFollowKubernetesSyntax) {
  auto with_label = [](absl::string_view key, absl::string_view value) {
    return absl::StrCat(
        "gateway { name: \"gw\" address: \"h:1\"\n  labels { "
        "key: \"",
        key, "\" value: \"", value, "\" } }");
  };
  EXPECT_EQ(ParseError(with_label("example.com/team_a-1", "v1.2_x-y")), "OK");
  EXPECT_EQ(ParseError(with_label(std::string(63, 'k'), std::string(63, 'v'))),
            "OK");
  EXPECT_EQ(ParseError(with_label("", "x")),
            "gw.txtpb:1:1: gateway 'gw': label key is empty");
  EXPECT_EQ(ParseError(with_label("a b", "x")),
            "gw.txtpb:1:1: gateway 'gw': label key 'a b' has a character "
            "outside [A-Za-z0-9._/-]");
  EXPECT_THAT(ParseError(with_label(std::string(64, 'k'), "x")),
              HasSubstr("is longer than 63 characters"));
  EXPECT_EQ(ParseError(with_label("site", "a/b")),
            "gw.txtpb:1:1: gateway 'gw': label value 'a/b' has a character "
            "outside [A-Za-z0-9._-]");
  EXPECT_THAT(ParseError(with_label("site", std::string(64, 'v'))),
              HasSubstr("label value 'vvv"));
  EXPECT_THAT(ParseError(with_label("site", "a\\nb")),
              HasSubstr("label value 'a\\nb'"));
}

TEST(GatewaysFileTest, RefusesALabelKeyGivenTwice) {
  EXPECT_EQ(ParseError("gateway {\n  name: \"gw\" address: \"h:1\"\n"
                       "  labels { key: \"env\" value: \"prod\" }\n"
                       "  labels { key: \"site\" value: \"ams\" }\n"
                       "  labels { key: \"env\" value: \"test\" }\n}"),
            "gw.txtpb:1:1: gateway 'gw': has a label key 'env' more than once");
}

TEST(GatewaysFileTest, ReportsEveryValidationErrorOnItsOwnLine) {
  EXPECT_EQ(ParseError("gateway { name: \"a\" address: \"h\" }\n"
                       "gateway { name: \"\" address: \"h:1\" }\n"
                       "gateway { name: \"c\" address: \"h:1\" }\n"),
            "gw.txtpb:1:21: gateway 'a': address 'h' has no port: expected "
            "host:port (a DNS name, IPv4 or [IPv6] address, a port from 1 to "
            "65535; no URI scheme such as dns: or unix:)\n"
            "gw.txtpb:2:11: gateway #2: has no name\n"
            "gw.txtpb:3:21: gateway 'c': has the address 'h:1' of gateway #2: "
            "one agent cannot be two gateways");
  std::string many;
  for (int i = 0; i < 25; ++i) many += "gateway { address: \"h\" }\n";
  std::string message = ParseError(many);
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 20);
  EXPECT_THAT(message, HasSubstr("\n... and 30 more"));
}

TEST(GatewaysFileTest, ErrorsEscapeWhatTheyQuote) {
  EXPECT_THAT(ParseError("gateway { name: \"a\\nb\" address: \"h:1\" }"),
              HasSubstr("name 'a\\nb' is invalid"));
  std::string message = ParseError(WithAddress(std::string(1000, 'x')));
  EXPECT_THAT(message, HasSubstr("xxx...'"));
  EXPECT_LT(message.size(), 300u);
}

class GatewaysFileLoadTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.empty()); }

  std::string Write(absl::string_view name, absl::string_view text) {
    std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  ::mailfleet::testing::TempDir temp_{"mailfleet-gateways"};
  const std::string dir_ = temp_.path();
};

TEST_F(GatewaysFileLoadTest, LoadsAFileAndNamesItInErrors) {
  std::string path = Write("gateways.txtpb", kExample);
  absl::StatusOr<std::vector<Gateway>> gateways = LoadGatewaysFile(path);
  ASSERT_TRUE(gateways.ok()) << gateways.status();
  EXPECT_EQ(gateways->size(), 3u);

  std::string bad =
      Write("bad.txtpb", "gateway {\n  name: \"gw1\"\n  port: 1\n}");
  absl::Status status = LoadGatewaysFile(bad).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            absl::StrCat(bad,
                         ":3:7: Message type \"mailfleet.v1.GatewayConfig\" "
                         "has no field named \"port\"."));
}

TEST_F(GatewaysFileLoadTest, FollowsASymlinkAsAMountedConfigMapHasThem) {
  std::string target = Write("real.txtpb", kExample);
  std::string link = absl::StrCat(dir_, "/link.txtpb");
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0) << std::strerror(errno);
  absl::StatusOr<std::vector<Gateway>> gateways = LoadGatewaysFile(link);
  ASSERT_TRUE(gateways.ok()) << gateways.status();
  EXPECT_EQ(gateways->size(), 3u);
}

TEST_F(GatewaysFileLoadTest, MissingFileIsNotFoundWithPathAndReason) {
  std::string path = absl::StrCat(dir_, "/absent.txtpb");
  absl::Status status = LoadGatewaysFile(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(),
            absl::StrCat("open ", path, ": No such file or directory"));
}

TEST_F(GatewaysFileLoadTest, RefusesADirectoryAFifoAndAnOversizedFile) {
  EXPECT_THAT(LoadGatewaysFile(dir_).status().message(),
              HasSubstr("is not a regular file"));

  std::string fifo = absl::StrCat(dir_, "/fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  EXPECT_THAT(LoadGatewaysFile(fifo).status().message(),
              HasSubstr("is not a regular file"));

  std::string big = Write("big.txtpb", "");
  ASSERT_EQ(truncate(big.c_str(), kMaxGatewaysFileBytes + 1), 0);
  absl::Status status = LoadGatewaysFile(big).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(), absl::StrCat(big, " is larger than 16 MiB"));
}

Gateway Gw(std::string name, std::string address, Labels labels = {}) {
  return Gateway{std::move(name), std::move(address), std::move(labels)};
}

auto Named(absl::string_view name) { return Field(&Gateway::name, name); }

TEST(DiffGatewaysTest, SameListsChangeNothing) {
  std::vector<Gateway> fleet = {Gw("a", "a:1", {{"site", "ams"}}),
                                Gw("b", "b:1")};
  EXPECT_TRUE(DiffGateways(fleet, fleet).empty());
  EXPECT_TRUE(DiffGateways({}, {}).empty());
  // Order alone is no change.
  EXPECT_TRUE(DiffGateways(fleet, {fleet[1], fleet[0]}).empty());
}

TEST(DiffGatewaysTest, FindsAddedRemovedAndChangedByName) {
  std::vector<Gateway> before = {Gw("a", "a:1"), Gw("b", "b:1"),
                                 Gw("c", "c:1", {{"env", "prod"}}),
                                 Gw("d", "d:1")};
  std::vector<Gateway> after = {Gw("e", "e:1"),
                                Gw("c", "c:1", {{"env", "test"}}),
                                Gw("b", "b:2"), Gw("a", "a:1"), Gw("f", "f:1")};
  GatewayChanges changes = DiffGateways(before, after);
  EXPECT_THAT(changes.added, ElementsAre(Named("e"), Named("f")));
  EXPECT_THAT(changes.removed, ElementsAre(Named("d")));
  // The new entries, in the new order.
  ASSERT_THAT(changes.changed, ElementsAre(Named("c"), Named("b")));
  EXPECT_THAT(changes.changed[0].labels, ElementsAre(Pair("env", "test")));
  EXPECT_EQ(changes.changed[1].address, "b:2");
}

TEST(DiffGatewaysTest, FromAndToAnEmptyFleet) {
  std::vector<Gateway> fleet = {Gw("a", "a:1"), Gw("b", "b:1")};
  GatewayChanges up = DiffGateways({}, fleet);
  EXPECT_THAT(up.added, ElementsAre(Named("a"), Named("b")));
  EXPECT_THAT(up.removed, IsEmpty());
  GatewayChanges down = DiffGateways(fleet, {});
  EXPECT_THAT(down.removed, ElementsAre(Named("a"), Named("b")));
  EXPECT_THAT(down.added, IsEmpty());
  EXPECT_THAT(down.changed, IsEmpty());
}

TEST(DiffGatewaysTest, LabelAddedOrRemovedIsAChange) {
  GatewayChanges changes =
      DiffGateways({Gw("a", "a:1", {{"env", "prod"}})}, {Gw("a", "a:1")});
  EXPECT_THAT(changes.changed, ElementsAre(Named("a")));
  changes = DiffGateways({Gw("a", "a:1")}, {Gw("a", "a:1", {{"env", ""}})});
  EXPECT_THAT(changes.changed, ElementsAre(Named("a")));
}

}  // namespace
}  // namespace mailfleet::controller
