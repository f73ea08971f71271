// Per-method RPC counts and latencies of a gRPC server, named and labelled
// as the Go and Java gRPC Prometheus interceptors do
// (grpc_server_handled_total, grpc_server_handling_seconds), so that
// dashboards written for them work.
#ifndef MAILFLEET_COMMON_METRICS_RPC_METRICS_H_
#define MAILFLEET_COMMON_METRICS_RPC_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include "prometheus/registry.h"

namespace mailfleet {

// For ServerBuilder::experimental().SetInterceptorCreators. The registry
// must outlive the server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewRpcMetricsFactory(
    prometheus::Registry& registry);

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_METRICS_RPC_METRICS_H_
