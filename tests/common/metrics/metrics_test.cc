// The /metrics endpoint and the action counts: what a scrape over HTTP
// returns, and how bad addresses are refused.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/metrics/action_metrics.h"
#include "common/metrics/families.h"
#include "common/metrics/metrics_server.h"
#include "common/metrics/rpc_metrics.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"
#include "prometheus/text_serializer.h"

namespace mailfleet {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// GET http://127.0.0.1:port/path, the whole response (headers and body).
std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nConnection: close\r\n\r\n");
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return "";
  }
  // Read to the end of the body: civetweb may keep the connection open
  // a while after it.
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) {
    response.append(buffer, n);
    const size_t body = response.find("\r\n\r\n");
    const size_t length = response.find("Content-Length: ");
    if (body == std::string::npos || length == std::string::npos) continue;
    const size_t want = std::stoul(response.substr(length + 16)) + body + 4;
    if (response.size() >= want) break;
  }
  close(fd);
  return response;
}

std::string Text(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

TEST(MetricsServerTest, AddressMustBeAnIpAndAPort) {
  for (const char* bad : {"", "9170", ":9170", "localhost:9170", "127.0.0.1",
                          "127.0.0.1:65536", "127.0.0.1:x", "[::1]9170"}) {
    auto server = MetricsServer::Start(bad);
    ASSERT_FALSE(server.ok()) << bad;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(server.status().message(), HasSubstr("IP:PORT")) << bad;
  }
}

TEST(MetricsServerTest, ServesTheRegistryAndCollectorsOverHttp) {
  auto server = MetricsServer::Start("127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  prometheus::BuildCounter()
      .Name("mailfleet_test_total")
      .Help("a counter")
      .Register((*server)->registry())
      .Add({{"kind", "a"}})
      .Increment(3);

  class Fixed : public prometheus::Collectable {
   public:
    std::vector<prometheus::MetricFamily> Collect() const override {
      std::vector<prometheus::MetricFamily> families;
      families.push_back(GaugeFamily("mailfleet_test_gauge", "a gauge")
                             .Add({{"queue", "deferred"}}, 42)
                             .Add({{"queue", "hold"}}, 0)
                             .Take());
      return families;
    }
  };
  (*server)->Add(std::make_shared<Fixed>());

  const std::string response = HttpGet((*server)->port(), "/metrics");
  EXPECT_THAT(response, HasSubstr("200 OK"));
  EXPECT_THAT(response, HasSubstr("mailfleet_test_total{kind=\"a\"} 3\n"));
  EXPECT_THAT(response, HasSubstr("# TYPE mailfleet_test_gauge gauge\n"));
  EXPECT_THAT(response, HasSubstr("mailfleet_test_gauge{queue=\"deferred\"} 42\n"));
  EXPECT_THAT(response, HasSubstr("mailfleet_test_gauge{queue=\"hold\"} 0\n"));
  EXPECT_THAT(HttpGet((*server)->port(), "/other"), Not(HasSubstr("mailfleet_test")));
}

TEST(MetricsServerTest, APortInUseIsUnavailable) {
  auto first = MetricsServer::Start("127.0.0.1:0");
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string taken = absl::StrCat("127.0.0.1:", (*first)->port());
  auto second = MetricsServer::Start(taken);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr("cannot serve metrics on " + taken));
}

v1::AuditRecord Record(const std::string& verb, const std::string& result, int64_t matched,
                       int64_t succeeded, int64_t failed, bool dry_run = false) {
  v1::AuditRecord record;
  record.set_verb(verb);
  record.set_result(result);
  record.set_matched(matched);
  record.set_succeeded(succeeded);
  record.set_failed(failed);
  record.set_dry_run(dry_run);
  return record;
}

TEST(ActionMetricsTest, CountsCallsByVerbAndResultAndTheirMessages) {
  prometheus::Registry registry;
  ActionMetrics metrics(registry);
  metrics.Count(Record("hold", "ok", 10, 10, 0));
  metrics.Count(Record("hold", "failed", 5, 3, 2));
  metrics.Count(Record("delete", "denied", 0, 0, 0));
  // A dry run is a call, but acts on no message.
  metrics.Count(Record("hold", "ok", 7, 0, 0, /*dry_run=*/true));

  const std::string text = Text(registry);
  EXPECT_THAT(text, HasSubstr("mailfleet_actions_total{dry_run=\"false\",result=\"ok\",verb=\"hold\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("mailfleet_actions_total{dry_run=\"false\",result=\"failed\",verb=\"hold\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("mailfleet_actions_total{dry_run=\"true\",result=\"ok\",verb=\"hold\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("mailfleet_actions_total{dry_run=\"false\",result=\"denied\",verb=\"delete\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("mailfleet_action_messages_total{outcome=\"matched\",verb=\"hold\"} 15\n"));
  EXPECT_THAT(text, HasSubstr("mailfleet_action_messages_total{outcome=\"succeeded\",verb=\"hold\"} 13\n"));
  EXPECT_THAT(text, HasSubstr("mailfleet_action_messages_total{outcome=\"failed\",verb=\"hold\"} 2\n"));
}

// Answers SERVING for "", refuses any named service.
class OneHealth : public grpc::health::v1::Health::Service {
  grpc::Status Check(grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override {
    if (!request->service().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no such service");
    }
    response->set_status(grpc::health::v1::HealthCheckResponse::SERVING);
    return grpc::Status::OK;
  }
};

TEST(RpcMetricsTest, CountsAndTimesEveryCallByMethodAndCode) {
  prometheus::Registry registry;
  OneHealth service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(NewRpcMetricsFactory(registry));
  builder.experimental().SetInterceptorCreators(std::move(creators));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);

  auto stub = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  for (const char* name : {"", "", "other"}) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(name);
    grpc::health::v1::HealthCheckResponse response;
    stub->Check(&context, request, &response);
  }
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  for (const char* path : {"/evil.Service1/Method1", "/evil.Service2/Method2"}) {
    grpc::GenericStub generic(channel);
    grpc::ClientContext context;
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1), response;
    absl::Notification done;
    generic.UnaryCall(&context, path, grpc::StubOptions(), &request, &response,
                      [&](grpc::Status status) {
                        EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
                        done.Notify();
                      });
    done.WaitForNotification();
  }
  server->Shutdown();

  const std::string text = Text(registry);
  const std::string method =
      "grpc_method=\"Check\",grpc_service=\"grpc.health.v1.Health\",grpc_type=\"unary\"";
  EXPECT_THAT(text, HasSubstr("grpc_server_started_total{" + method + "} 3\n"));
  EXPECT_THAT(text, HasSubstr("grpc_server_handled_total{grpc_code=\"OK\"," + method + "} 2\n"));
  EXPECT_THAT(text, HasSubstr("grpc_server_handled_total{grpc_code=\"INVALID_ARGUMENT\"," +
                              method + "} 1\n"));
  EXPECT_THAT(text, HasSubstr("grpc_server_handling_seconds_count{" + method + "} 3\n"));
  // A method the server does not have is counted, under "unknown" only:
  // a client cannot make series of its own.
  EXPECT_THAT(text, HasSubstr("grpc_server_handled_total{grpc_code=\"UNIMPLEMENTED\","
                              "grpc_method=\"unknown\",grpc_service=\"unknown\","
                              "grpc_type=\"unknown\"} 2\n"));
  EXPECT_THAT(text, Not(HasSubstr("evil")));
}

}  // namespace
}  // namespace mailfleet
