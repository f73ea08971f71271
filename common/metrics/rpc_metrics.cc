#include "common/metrics/rpc_metrics.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"

namespace mailfleet {
namespace {

// From a millisecond (a summary from the index) to minutes (a Watch).
const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1,     2.5,    5,     10,   30,    60,   300, 1800};

struct RpcFamilies {
  explicit RpcFamilies(prometheus::Registry& registry)
      : started(prometheus::BuildCounter()
                    .Name("grpc_server_started_total")
                    .Help("RPCs started on the server")
                    .Register(registry)),
        handled(prometheus::BuildCounter()
                    .Name("grpc_server_handled_total")
                    .Help("RPCs completed on the server, by status code")
                    .Register(registry)),
        seconds(prometheus::BuildHistogram()
                    .Name("grpc_server_handling_seconds")
                    .Help("Time from an RPC's arrival to its status")
                    .Register(registry)) {}

  prometheus::Family<prometheus::Counter>& started;
  prometheus::Family<prometheus::Counter>& handled;
  prometheus::Family<prometheus::Histogram>& seconds;
};

class RpcMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(RpcFamilies* families, absl::string_view method)
      : families_(families), start_(absl::Now()) {
    // "/mailfleet.v1.AgentService/List"
    absl::string_view name = absl::StripPrefix(method, "/");
    size_t slash = name.rfind('/');
    service_ = std::string(slash == absl::string_view::npos ? "" : name.substr(0, slash));
    method_ = std::string(slash == absl::string_view::npos ? name : name.substr(slash + 1));
    families_->started.Add({{"grpc_service", service_}, {"grpc_method", method_}}).Increment();
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
    std::string code_name(absl::StatusCodeToString(static_cast<absl::StatusCode>(code)));
    families_->handled
        .Add({{"grpc_service", service_}, {"grpc_method", method_}, {"grpc_code", code_name}})
        .Increment();
    families_->seconds
        .Add({{"grpc_service", service_}, {"grpc_method", method_}}, kLatencyBuckets)
        .Observe(absl::ToDoubleSeconds(absl::Now() - start_));
  }

  RpcFamilies* families_;
  const absl::Time start_;
  std::string service_;
  std::string method_;
  bool done_ = false;
};

class RpcMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsFactory(prometheus::Registry& registry) : families_(registry) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcMetricsInterceptor(&families_, info->method());
  }

 private:
  RpcFamilies families_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewRpcMetricsFactory(
    prometheus::Registry& registry) {
  return std::make_unique<RpcMetricsFactory>(registry);
}

}  // namespace mailfleet
