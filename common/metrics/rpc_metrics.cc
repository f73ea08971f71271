#include "common/metrics/rpc_metrics.h"

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/descriptor.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"

namespace mailfleet {
namespace {

using Clock = std::chrono::steady_clock;

// From a millisecond (a summary from the index) to minutes (a Watch).
const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1,     2.5,    5,     10,   30,    60,   300, 1800};

constexpr int kStatusCodes = 17;  // OK .. UNAUTHENTICATED

absl::string_view TypeName(grpc::experimental::ServerRpcInfo::Type type) {
  using Type = grpc::experimental::ServerRpcInfo::Type;
  switch (type) {
    case Type::UNARY:
      return "unary";
    case Type::CLIENT_STREAMING:
      return "client_stream";
    case Type::SERVER_STREAMING:
      return "server_stream";
    case Type::BIDI_STREAMING:
      return "bidi_stream";
  }
  return "unknown";
}

// One method's series, made once: an RPC's end only increments them.
struct MethodMetrics {
  prometheus::Counter* started = nullptr;
  prometheus::Histogram* seconds = nullptr;
  prometheus::Counter* handled[kStatusCodes] = {};
};

class RpcMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsFactory(prometheus::Registry& registry)
      : started_(prometheus::BuildCounter()
                     .Name("grpc_server_started_total")
                     .Help("RPCs started on the server")
                     .Register(registry)),
        handled_(prometheus::BuildCounter()
                     .Name("grpc_server_handled_total")
                     .Help("RPCs completed on the server, by status code")
                     .Register(registry)),
        seconds_(prometheus::BuildHistogram()
                     .Name("grpc_server_handling_seconds")
                     .Help("Time from an RPC's arrival to its status")
                     .Register(registry)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  const MethodMetrics* MetricsFor(absl::string_view path,
                                  grpc::experimental::ServerRpcInfo::Type type);

  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& seconds_;
  absl::Mutex mu_;
  // By "/package.Service/Method" as the client sent it; only methods this
  // binary knows get their own series, or a client could make any number.
  // Node-based: interceptors keep pointers to the values.
  absl::node_hash_map<std::string, MethodMetrics> methods_ ABSL_GUARDED_BY(mu_);
  std::optional<MethodMetrics> unknown_ ABSL_GUARDED_BY(mu_);
};

class RpcMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit RpcMetricsInterceptor(const MethodMetrics* metrics)
      : metrics_(metrics), start_(Clock::now()) {
    metrics_->started->Increment();
  }

  ~RpcMetricsInterceptor() override {
    // A call that ended without a status of ours was cancelled.
    if (!done_) Done(grpc::StatusCode::CANCELLED);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      Done(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Done(grpc::StatusCode code) {
    done_ = true;
    const int index = static_cast<int>(code);
    if (index >= 0 && index < kStatusCodes) metrics_->handled[index]->Increment();
    metrics_->seconds->Observe(
        std::chrono::duration<double>(Clock::now() - start_).count());
  }

  const MethodMetrics* metrics_;
  const Clock::time_point start_;
  bool done_ = false;
};

grpc::experimental::Interceptor* RpcMetricsFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new RpcMetricsInterceptor(MetricsFor(info->method(), info->type()));
}

const MethodMetrics* RpcMetricsFactory::MetricsFor(
    absl::string_view path, grpc::experimental::ServerRpcInfo::Type type) {
  absl::MutexLock lock(&mu_);
  if (auto it = methods_.find(path); it != methods_.end()) return &it->second;
  // "/mailfleet.v1.AgentService/List"
  absl::string_view name = absl::StripPrefix(path, "/");
  const size_t slash = name.rfind('/');
  std::string service(slash == absl::string_view::npos ? "" : name.substr(0, slash));
  std::string method(slash == absl::string_view::npos ? name : name.substr(slash + 1));
  // gRPC's own health service is served without a descriptor here.
  const bool known =
      service == "grpc.health.v1.Health" ||
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
          absl::StrCat(service, ".", method)) != nullptr;
  if (!known && unknown_.has_value()) return &*unknown_;
  const std::string type_name(known ? TypeName(type) : "unknown");
  if (!known) service = method = "unknown";
  const prometheus::Labels labels = {
      {"grpc_service", service}, {"grpc_method", method}, {"grpc_type", type_name}};
  MethodMetrics metrics;
  metrics.seconds = &seconds_.Add(labels, kLatencyBuckets);
  for (int code = 0; code < kStatusCodes; ++code) {
    prometheus::Labels with_code = labels;
    with_code["grpc_code"] = std::string(absl::StatusCodeToString(static_cast<absl::StatusCode>(code)));
    metrics.handled[code] = &handled_.Add(with_code);
  }
  metrics.started = &started_.Add(labels);
  if (!known) return &unknown_.emplace(metrics);
  return &methods_.emplace(std::string(path), metrics).first->second;
}

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewRpcMetricsFactory(
    prometheus::Registry& registry) {
  return std::make_unique<RpcMetricsFactory>(registry);
}

}  // namespace mailfleet
