#include "common/security/authorizer.h"

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace mailfleet {
namespace {

using ::testing::HasSubstr;

constexpr char kRemote[] = "ipv4:192.0.2.7:40000";
constexpr char kLoopback[] = "ipv4:127.0.0.1:40000";

Caller From(const std::string& peer) {
  Caller c;
  c.peer = peer;
  c.local = IsLocalPeer(peer);
  return c;
}

Caller WithToken(Caller c, const std::string& token) {
  c.authorization = "Bearer " + token;
  return c;
}

// Three tokens, one per role, from a tokens file as a server reads it.
class AuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(path_) << "vic viewer " << Sha256Hex("v-token") << "\n"
                         << "rita reader " << Sha256Hex("r-token") << "\n"
                         << "ola operator " << Sha256Hex("o-token") << "\n";
    ASSERT_TRUE(store_.Load().ok());
  }

  absl::StatusOr<Principal> Agent(const Caller& caller, Permission p) {
    AuthPolicy policy;
    policy.tokens = &store_;
    policy.controller_name = "mailfleet-controller";
    policy.act_only_from_controller_or_local = true;
    return Authorize(policy, caller, p);
  }
  absl::StatusOr<Principal> Controller(const Caller& caller, Permission p) {
    AuthPolicy policy;
    policy.tokens = &store_;
    return Authorize(policy, caller, p);
  }

  testing::TempDir dir_{"security_test"};
  std::string path_ = dir_.path() + "/tokens";
  TokenStore store_{path_};
};

TEST(LocalPeerTest, LoopbackUnixAndInProcessAreLocal) {
  EXPECT_TRUE(IsLocalPeer("ipv4:127.0.0.1:5000"));
  EXPECT_TRUE(IsLocalPeer("ipv4:127.3.2.1:5000"));
  EXPECT_TRUE(IsLocalPeer("ipv6:[::1]:5000"));
  EXPECT_TRUE(IsLocalPeer("ipv6:[::ffff:127.0.0.1]:5000"));
  EXPECT_TRUE(IsLocalPeer("unix:/run/mailfleet.sock"));
  EXPECT_FALSE(IsLocalPeer("unknown"));
  EXPECT_FALSE(IsLocalPeer("ipv4:10.0.0.1:5000"));
  EXPECT_FALSE(IsLocalPeer("ipv4:1127.0.0.1:5000"));
  EXPECT_FALSE(IsLocalPeer("ipv6:[::2]:5000"));
  EXPECT_FALSE(IsLocalPeer(""));
}

TEST(NoTokensTest, AnUnknownPeerIsLocalOnlyWhenThePolicySaysSo) {
  AuthPolicy policy;
  EXPECT_EQ(Authorize(policy, From("unknown"), Permission::kView).status().code(),
            absl::StatusCode::kUnauthenticated);
  policy.unknown_peer_is_local = true;
  policy.act_only_from_controller_or_local = true;
  EXPECT_TRUE(Authorize(policy, From("unknown"), Permission::kAct).ok());
}

TEST(NoTokensTest, OnlyLoopbackGetsInWithoutAToken) {
  AuthPolicy policy;
  auto local = Authorize(policy, From(kLoopback), Permission::kAct);
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(local->name, kLocalPrincipal);
  EXPECT_EQ(local->role, Role::kOperator);

  auto remote = Authorize(policy, From(kRemote), Permission::kView);
  EXPECT_EQ(remote.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(remote.status().message()), HasSubstr(kRemote));

  // A token the server cannot check is refused, not ignored.
  auto token = Authorize(policy, WithToken(From(kLoopback), "x"), Permission::kView);
  EXPECT_EQ(token.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(token.status().message()), HasSubstr("no --tokens"));
}

TEST_F(AuthorizerTest, EveryCallNeedsAKnownToken) {
  auto none = Controller(From(kLoopback), Permission::kView);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("no token"));

  auto wrong = Controller(WithToken(From(kLoopback), "guess"), Permission::kView);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);

  Caller basic = From(kLoopback);
  basic.authorization = "Basic dmljOnYtdG9rZW4=";
  EXPECT_EQ(Controller(basic, Permission::kView).status().code(),
            absl::StatusCode::kUnauthenticated);

  Caller lower = From(kLoopback);
  lower.authorization = "bearer v-token";
  EXPECT_TRUE(Controller(lower, Permission::kView).ok());
}

TEST_F(AuthorizerTest, RolesAreOrdered) {
  struct Case {
    std::string token;
    Permission wanted;
    bool allowed;
  } cases[] = {
      {"v-token", Permission::kView, true},
      {"v-token", Permission::kReadContent, false},
      {"v-token", Permission::kAct, false},
      {"r-token", Permission::kView, true},
      {"r-token", Permission::kReadContent, true},
      {"r-token", Permission::kAct, false},
      {"o-token", Permission::kView, true},
      {"o-token", Permission::kReadContent, true},
      {"o-token", Permission::kAct, true},
  };
  for (const Case& c : cases) {
    auto p = Controller(WithToken(From(kRemote), c.token), c.wanted);
    EXPECT_EQ(p.ok(), c.allowed) << c.token << " " << static_cast<int>(c.wanted);
    if (!c.allowed) {
      EXPECT_EQ(p.status().code(), absl::StatusCode::kPermissionDenied);
    }
  }
  auto denied = Controller(WithToken(From(kRemote), "v-token"), Permission::kAct);
  EXPECT_EQ(denied.status().message(),
            "vic has the viewer role; acting on messages needs operator");
}

TEST_F(AuthorizerTest, AnAgentTakesActionsOnlyFromTheControllerOrALocalOperator) {
  auto remote = Agent(WithToken(From(kRemote), "o-token"), Permission::kAct);
  EXPECT_EQ(remote.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(remote.status().message()),
              HasSubstr("only from the controller or a local operator"));
  // Reading is fine from afar.
  EXPECT_TRUE(Agent(WithToken(From(kRemote), "o-token"), Permission::kReadContent).ok());

  auto local = Agent(WithToken(From(kLoopback), "o-token"), Permission::kAct);
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(local->name, "ola");

  Caller controller = From(kRemote);
  controller.certificate_names = {"mailfleet-controller"};
  controller.forwarded_principal = "ola";
  controller.forwarded_role = "operator";
  auto forwarded = Agent(controller, Permission::kAct);
  ASSERT_TRUE(forwarded.ok()) << forwarded.status();
  EXPECT_EQ(forwarded->name, "ola");
  EXPECT_TRUE(forwarded->via_controller);
  EXPECT_EQ(Describe(*forwarded), "ola via the controller");
}

TEST_F(AuthorizerTest, TheControllerForwardsRolesTheAgentStillChecks) {
  Caller controller = From(kRemote);
  controller.certificate_names = {"gw-ignored", "mailfleet-controller"};
  controller.forwarded_principal = "vic";
  controller.forwarded_role = "viewer";
  auto p = Agent(controller, Permission::kAct);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kPermissionDenied);

  // Its own Watch streams carry no principal: the controller, as a viewer.
  controller.forwarded_principal.reset();
  controller.forwarded_role.reset();
  auto own = Agent(controller, Permission::kView);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->name, "mailfleet-controller");
  EXPECT_EQ(Agent(controller, Permission::kAct).status().code(),
            absl::StatusCode::kPermissionDenied);

  controller.forwarded_principal = "bad name";
  controller.forwarded_role = "operator";
  EXPECT_EQ(Agent(controller, Permission::kView).status().code(),
            absl::StatusCode::kUnauthenticated);
  controller.forwarded_principal = "ola";
  controller.forwarded_role = "root";
  EXPECT_EQ(Agent(controller, Permission::kView).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthorizerTest, ForwardedHeadersFromAnyoneElseAreIgnored) {
  // Another certificate of the same CA, a viewer token and a forged
  // operator principal: the token decides.
  Caller forger = WithToken(From(kLoopback), "v-token");
  forger.certificate_names = {"operator-mallory"};
  forger.forwarded_principal = "ola";
  forger.forwarded_role = "operator";
  auto p = Agent(forger, Permission::kAct);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("vic has the viewer role"));

  // And without a token, not even viewing.
  forger.authorization.reset();
  EXPECT_EQ(Agent(forger, Permission::kView).status().code(),
            absl::StatusCode::kUnauthenticated);

  // The controller side trusts no forwarder at all.
  Caller at_controller = WithToken(From(kLoopback), "v-token");
  at_controller.certificate_names = {"mailfleet-controller"};
  at_controller.forwarded_principal = "ola";
  at_controller.forwarded_role = "operator";
  EXPECT_EQ(Controller(at_controller, Permission::kAct).status().code(),
            absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace mailfleet
