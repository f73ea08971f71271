// TLS and mTLS over real sockets on loopback, with certificates made by
// deploy/make-fleet-certs.sh, the script operators use.
#include "common/security/tls.h"

#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/security/access_control.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mailfleet/v1/agent.grpc.pb.h"
#include "tests/testing/temp_dir.h"

namespace mailfleet {
namespace {

using ::testing::HasSubstr;

// Summary answers with the principal its caller was identified as.
class WhoAmI final : public v1::AgentService::CallbackService {
 public:
  explicit WhoAmI(const AccessControl* access) : access_(access) {}
  grpc::ServerUnaryReactor* Summary(grpc::CallbackServerContext* context,
                                    const v1::SummaryRequest*,
                                    v1::SummaryResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    auto who = access_->Check(*context, Permission::kView);
    if (!who.ok()) {
      reactor->Finish(grpc::Status(static_cast<grpc::StatusCode>(who.status().code()),
                                   std::string(who.status().message())));
    } else {
      response->mutable_agent()->set_hostname(Describe(*who));
      reactor->Finish(grpc::Status::OK);
    }
    return reactor;
  }

 private:
  const AccessControl* access_;
};

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir("tls_test");
    const std::string script =
        absl::StrCat(MAILFLEET_SOURCE_DIR, "/deploy/make-fleet-certs.sh");
    for (const char* ca : {"fleet", "other"}) {
      const std::string cmd = absl::StrCat(script, " ", dir_->path(), "/", ca,
                                           " --agent gw1 --operator ola >/dev/null");
      ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string File(const std::string& ca, const std::string& name) {
    return absl::StrCat(dir_->path(), "/", ca, "/", name);
  }
  static TlsFiles Files(const std::string& ca, const std::string& who) {
    return {File(ca, who + ".pem"), File(ca, who + ".key"), File("fleet", "ca.pem")};
  }

  void Serve(bool require_client_cert) {
    auto credentials = MakeServerCredentials(Files("fleet", "agent-gw1"), require_client_cert);
    ASSERT_TRUE(credentials.ok()) << credentials.status();
    AuthPolicy policy;
    policy.controller_name = "mailfleet-controller";
    access_ = std::make_unique<AccessControl>(policy, nullptr);
    service_ = std::make_unique<WhoAmI>(access_.get());
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *credentials, &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  // The identified principal, or the call's error.
  absl::StatusOr<std::string> Call(const TlsFiles& client,
                                   const std::string& forwarded_principal = "") {
    auto credentials = MakeChannelCredentials(client);
    if (!credentials.ok()) return credentials.status();
    auto stub = v1::AgentService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), *credentials));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!forwarded_principal.empty()) {
      Principal forwarded;
      forwarded.name = forwarded_principal;
      forwarded.role = Role::kOperator;
      ForwardPrincipal(&context, forwarded);
    }
    v1::SummaryResponse response;
    grpc::Status s = stub->Summary(&context, v1::SummaryRequest(), &response);
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
    }
    return response.agent().hostname();
  }

  static testing::TempDir* dir_;
  std::unique_ptr<AccessControl> access_;
  std::unique_ptr<WhoAmI> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

testing::TempDir* TlsTest::dir_ = nullptr;

TEST_F(TlsTest, MutualTlsTellsTheControllerFromOtherCertificates) {
  Serve(/*require_client_cert=*/true);
  auto controller = Call(Files("fleet", "controller"), "ola");
  ASSERT_TRUE(controller.ok()) << controller.status();
  EXPECT_EQ(*controller, "ola via the controller");
  auto itself = Call(Files("fleet", "controller"));
  ASSERT_TRUE(itself.ok()) << itself.status();
  EXPECT_EQ(*itself, "mailfleet-controller");
  // An operator's certificate forwarding a principal is not believed: it is
  // a loopback caller without a token.
  auto operator_cert = Call(Files("fleet", "operator-ola"), "someone-else");
  ASSERT_TRUE(operator_cert.ok()) << operator_cert.status();
  EXPECT_EQ(*operator_cert, "local");
}

TEST_F(TlsTest, AClientWithoutACertificateIsRefusedAtTheHandshake) {
  Serve(/*require_client_cert=*/true);
  auto none = Call({"", "", File("fleet", "ca.pem")});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnavailable) << none.status();
}

TEST_F(TlsTest, ACertificateFromAnotherCaIsRefused) {
  Serve(/*require_client_cert=*/true);
  TlsFiles other = Files("other", "controller");  // same CN, another CA
  auto refused = Call(other);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  Serve(/*require_client_cert=*/false);
  refused = Call(other);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
}

TEST_F(TlsTest, AServerFromAnotherCaIsRefusedByTheClient) {
  Serve(/*require_client_cert=*/false);
  TlsFiles trusting_other = {"", "", File("other", "ca.pem")};
  auto refused = Call(trusting_other);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
}

TEST_F(TlsTest, ClientCertificatesMayBeOptional) {
  Serve(/*require_client_cert=*/false);
  auto none = Call({"", "", File("fleet", "ca.pem")});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, "local");
}

TEST_F(TlsTest, BadFlagsAreRefusedBeforeAnythingListens) {
  TlsFiles f = Files("fleet", "agent-gw1");
  EXPECT_THAT(std::string(MakeServerCredentials({f.cert, "", f.ca}, true).status().message()),
              HasSubstr("--tls-cert and --tls-key go together"));
  EXPECT_THAT(std::string(MakeServerCredentials({f.cert, f.key, ""}, true).status().message()),
              HasSubstr("no --tls-ca"));
  EXPECT_TRUE(MakeServerCredentials({f.cert, f.key, ""}, false).ok());
  EXPECT_THAT(std::string(MakeServerCredentials({"", "", f.ca}, true).status().message()),
              HasSubstr("needs --tls-cert and --tls-key"));
  EXPECT_THAT(
      std::string(MakeServerCredentials({f.cert + ".missing", f.key, f.ca}, true)
                      .status()
                      .message()),
      HasSubstr("--tls-cert: "));
  // A key where the CA should be still parses as PEM; a token file does not.
  const std::string not_pem = dir_->path() + "/fleet/not.pem";
  FILE* out = fopen(not_pem.c_str(), "w");
  fputs("hello\n", out);
  fclose(out);
  EXPECT_THAT(std::string(MakeChannelCredentials({"", "", not_pem}).status().message()),
              HasSubstr("holds no PEM block"));
  EXPECT_THAT(std::string(MakeChannelCredentials({f.cert, f.key, ""}).status().message()),
              HasSubstr("needs --tls-ca"));
}

}  // namespace
}  // namespace mailfleet
